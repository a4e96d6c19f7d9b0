//! The central station's wire (DESIGN.md "Central station (MQTT 5)",
//! docs/mqtt.md): the topic tree and the payloads that the bedside
//! publishes and `vigil central` reads.

pub mod broker;
pub mod connect;
pub mod payload;
pub mod publish;
pub mod topic;
