//! The task API end to end over HTTP, on SQLite and PostgreSQL.

mod support;

mod busy;
mod caldav;
mod erasure;
mod export;
mod feeds;
mod grpc;
mod invariants;
mod members;
mod openapi;
mod planned;
mod rabbitmq;
mod reminders;
mod schedules;
mod series;
mod tasks;
