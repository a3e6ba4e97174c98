//! Whole screens. Each page composes components and reads the backend from context.

pub mod home;
