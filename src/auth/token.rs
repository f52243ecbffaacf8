//! Session tokens: 256 random bits, shown to the client once, stored only as a hash.

use std::borrow::Cow;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// A bearer token as the client holds it. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

/// Hex SHA-256 of a token: what `sesiones.token_hash` keeps. A plain hash is
/// enough because the token is random and long; a slow hash would only slow
/// every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHash(String);

impl Token {
    pub fn generar() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Accepts what a client sent; anything that isn't a plausible token is
    /// refused before it costs a query.
    pub fn parse(s: &str) -> Option<Self> {
        let valido = s.len() == 43
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        valido.then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        let digest = Sha256::digest(self.0.as_bytes());
        TokenHash(digest.iter().map(|b| format!("{b:02x}")).collect())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(…)")
    }
}

impl TokenHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A hash as `sesiones.token_hash` keeps it.
    pub fn guardado(hex: String) -> Self {
        Self(hex)
    }

    /// The login's [`Huella`].
    pub fn huella(&self) -> Huella {
        Huella::de_hash(&self.0)
    }
}

/// What may be said about a login in the open — in an event that every node
/// and every monitor reads, in the audit log: 16 hex digits of the SHA-256
/// of its [`TokenHash`]. Enough for a node to tell which of an account's
/// sockets a revocation names; useless for logging in or for finding the
/// row, since it is neither the token nor the stored hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Huella(String);

impl Huella {
    const BYTES: usize = 8;

    /// The huella of a token hash as `sesiones.token_hash` keeps it.
    pub fn de_hash(token_hash: &str) -> Self {
        let digest = Sha256::digest(token_hash.as_bytes());
        Huella(
            digest[..Self::BYTES]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        )
    }

    /// Accepts what an event carries: exactly 16 lower-case hex digits.
    pub fn parse(s: &str) -> Option<Self> {
        let valida = s.len() == 2 * Self::BYTES
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        valida.then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// In an event's payload (`sesion`), as its 16 hex digits.
impl Serialize for Huella {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Huella {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let texto = <Cow<'de, str>>::deserialize(d)?;
        Huella::parse(&texto).ok_or_else(|| D::Error::custom("una huella son 16 dígitos hex"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn los_tokens_son_distintos_y_se_reconocen() {
        let a = Token::generar();
        let b = Token::generar();
        assert_ne!(a, b);
        assert_eq!(Token::parse(a.as_str()), Some(a.clone()));
        assert_eq!(a.hash().as_str().len(), 64);
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn la_huella_no_es_el_token_ni_su_hash_y_se_reconoce() {
        let token = Token::generar();
        let huella = token.hash().huella();
        assert_eq!(huella.as_str().len(), 16);
        assert!(!token.as_str().contains(huella.as_str()));
        assert!(!token.hash().as_str().contains(huella.as_str()));
        assert_eq!(Huella::parse(huella.as_str()), Some(huella.clone()));
        assert_eq!(
            token.hash().huella(),
            huella,
            "the same login, the same huella"
        );
        assert_ne!(Token::generar().hash().huella(), huella);
        assert!(Huella::parse("ABCDEF0123456789").is_none());
        assert!(Huella::parse(token.hash().as_str()).is_none());
    }

    #[test]
    fn basura_no_es_un_token() {
        assert!(Token::parse("").is_none());
        assert!(Token::parse("abc").is_none());
        assert!(Token::parse(&"é".repeat(43)).is_none());
        assert!(Token::parse(&"a".repeat(44)).is_none());
    }
}
