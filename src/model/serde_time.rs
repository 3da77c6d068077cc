//! Moments in serialised readings: RFC 3339 UTC to the nanosecond, so a reading read back
//! from the ops store judges ages exactly as the one the collector polled.

use std::time::SystemTime;

use serde::{Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_rfc3339_nanos(*t).to_string())
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_rfc3339(&text).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct At(#[serde(with = "super")] std::time::SystemTime);

    #[test]
    fn a_moment_survives_to_the_nanosecond() {
        let at = At(std::time::UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789));
        let text = serde_json::to_string(&at).expect("encodes");
        assert_eq!(text, "\"2023-11-14T22:13:20.123456789Z\"");
        assert_eq!(serde_json::from_str::<At>(&text).expect("decodes"), at);
        assert!(serde_json::from_str::<At>("\"yesterday\"").is_err());
    }
}
