//! `vigil central`: the central station (DESIGN.md "Central station (MQTT 5)").

pub mod rooms;
