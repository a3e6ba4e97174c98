pub mod app;
pub mod chat;
pub mod media;
pub mod meeting;
