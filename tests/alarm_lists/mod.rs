//! A bedside's alarm list two ways, to compare them: from its headless
//! alarm lines, and from a published `alarm_state` payload.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;

use serde_json::Value;

/// (alarm, device) → (state, priority).
pub type AlarmList = BTreeMap<(String, String), (String, String)>;

/// The bedside's alarm list at the end, from its headless alarm lines: the
/// last state of every (alarm, device) not cleared.
pub fn final_alarms(printed: &[Value]) -> AlarmList {
    let mut list = BTreeMap::new();
    for a in printed {
        let key = (a["alarm"].as_str().unwrap().to_owned(), a["device"].as_str().unwrap_or("").to_owned());
        if a["state"] == "cleared" {
            list.remove(&key);
        } else {
            list.insert(key, (a["state"].as_str().unwrap().to_owned(), a["priority"].as_str().unwrap().to_owned()));
        }
    }
    list
}

/// The alarm list an `alarm_state` payload carries.
pub fn state_alarms(state: &Value) -> AlarmList {
    state["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                (a["alarm"].as_str().unwrap().to_owned(), a["device"].as_str().unwrap_or("").to_owned()),
                (a["state"].as_str().unwrap().to_owned(), a["priority"].as_str().unwrap().to_owned()),
            )
        })
        .collect()
}
