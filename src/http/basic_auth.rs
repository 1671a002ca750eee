//! HTTP Basic credentials (RFC 7617), as a service's `auth {user, password}` sends them.

use base64ct::{Base64, Encoding};

/// The `Authorization` value for `user` and `password`.
pub fn basic_authorization(user: &str, password: &str) -> String {
    format!("Basic {}", Base64::encode_string(format!("{user}:{password}").as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_and_password_are_joined_and_encoded() {
        assert_eq!(basic_authorization("u", "p"), "Basic dTpw");
        assert_eq!(basic_authorization("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    }
}
