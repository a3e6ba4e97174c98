pub mod ended;
pub mod home;
pub mod meeting;
pub mod waiting;
