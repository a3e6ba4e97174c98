pub mod ended;
pub mod home;
pub mod meeting;
pub mod settings;
pub mod waiting;
