//! Reusable pieces of the screens.

pub mod app_info_footer;
pub mod host_card;
pub mod join_form;
