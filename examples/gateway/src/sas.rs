//! Azure Event Hubs shared access signatures.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::Sha256;

/// What Python's `quote_plus` and JavaScript's `encodeURIComponent` leave alone.
const URI: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn enc(s: &str) -> String {
    utf8_percent_encode(s, URI).to_string()
}

/// `SharedAccessSignature sr=..&sig=..&se=..&skn=..` for `resource_uri`, valid until `expiry`
/// (UNIX seconds). The key is used as its UTF-8 text, as Event Hubs does (not base64-decoded).
pub fn token(resource_uri: &str, key_name: &str, key: &str, expiry: u64) -> String {
    let sr = enc(resource_uri);
    let to_sign = format!("{sr}\n{expiry}");
    let sig = match Hmac::<Sha256>::new_from_slice(key.as_bytes()) {
        Ok(mut mac) => {
            mac.update(to_sign.as_bytes());
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    };
    format!(
        "SharedAccessSignature sr={sr}&sig={}&se={expiry}&skn={}",
        enc(&sig),
        enc(key_name)
    )
}

/// Check a token as Event Hubs does: known key name, not expired, `sr` a prefix of the
/// request URL, HMAC over the `sr` as sent. Used by the tests' fake endpoint.
pub fn verify(header: &str, url: &str, keys: &[(&str, &str)], now: u64) -> bool {
    let Some(rest) = header.strip_prefix("SharedAccessSignature ") else {
        return false;
    };
    let mut sr = None;
    let mut sig = None;
    let mut se = None;
    let mut skn = None;
    for part in rest.split('&') {
        match part.split_once('=') {
            Some(("sr", v)) => sr = Some(v),
            Some(("sig", v)) => sig = Some(v),
            Some(("se", v)) => se = Some(v),
            Some(("skn", v)) => skn = Some(v),
            _ => {}
        }
    }
    let (Some(sr), Some(sig), Some(se), Some(skn)) = (sr, sig, se, skn) else {
        return false;
    };
    let Some(key) = keys.iter().find(|(n, _)| *n == skn).map(|(_, k)| *k) else {
        return false;
    };
    let Ok(expiry) = se.parse::<u64>() else {
        return false;
    };
    if expiry < now {
        return false;
    }
    let resource = percent_encoding::percent_decode_str(sr)
        .decode_utf8_lossy()
        .to_lowercase();
    if !url.to_lowercase().starts_with(&resource) {
        return false;
    }
    let sig = percent_encoding::percent_decode_str(sig)
        .decode_utf8_lossy()
        .to_string();
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.as_bytes()) else {
        return false;
    };
    mac.update(format!("{sr}\n{se}").as_bytes());
    mac.verify_slice(&raw).is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_answer() {
        let t = super::token(
            "https://mynamespace.servicebus.windows.net/weights",
            "SendPolicy",
            "abc123+/=XYZ",
            1_700_000_000,
        );
        assert_eq!(
            t,
            "SharedAccessSignature sr=https%3A%2F%2Fmynamespace.servicebus.windows.net%2Fweights&sig=QCukExQPIwE0WAviVaPEpWdoth5Z1Mvps3mgs137jBc%3D&se=1700000000&skn=SendPolicy"
        );
        let keys = [("SendPolicy", "abc123+/=XYZ")];
        let url = "https://mynamespace.servicebus.windows.net/weights/messages";
        assert!(super::verify(&t, url, &keys, 1_600_000_000));
        assert!(!super::verify(&t, url, &keys, 1_800_000_000), "expired");
        assert!(!super::verify(
            &t,
            "https://mynamespace.servicebus.windows.net/other/messages",
            &keys,
            0
        ));
        assert!(!super::verify(&t, url, &[("SendPolicy", "wrong")], 0));
    }
}
