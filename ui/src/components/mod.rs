pub mod app_info_footer;
pub mod chat_panel;
pub mod control_bar;
pub mod host_card;
pub mod join_form;
pub mod nearby;
pub mod people_panel;
pub mod tile;
