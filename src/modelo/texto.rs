//! Enums kept as text in the database (`rol`, `prioridad`, `estado`, …): one
//! macro gives each the `&'static str` spelling, parsing, serde and the sqlx
//! decoding, so that a row with an unknown value fails to decode instead of
//! becoming a default. Open sets (an event's `tipo`, which an integration
//! may invent) get the same with a case for the names comanda doesn't know.

/// What both kinds of enum share, through `as_str` and `FromStr`: the
/// text as `Display`, serde and the sqlx decoding of a text column.
macro_rules! como_texto {
    ($name:ident) => {
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            String: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as sqlx::Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            String: sqlx::Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                Ok(<String as sqlx::Decode<'r, DB>>::decode(value)?.parse::<$name>()?)
            }
        }
    };
}
pub(crate) use como_texto;

/// `texto_enum! { pub enum Prioridad { Normal = "normal", … } }`
macro_rules! texto_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const TODOS: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        concat!(stringify!($name), " desconocido {:?}; valores válidos: ", $($text, " "),+),
                        s
                    )),
                }
            }
        }

        $crate::modelo::texto::como_texto!($name);
    };
}
pub(crate) use texto_enum;

/// `texto_abierto! { pub enum TipoEvento { AlertaCocina = "alerta_cocina", … } }`:
/// the names comanda knows as variants, and `Otro(String)` for any other.
/// Build one with `from`/`parse` (never fails), so that `Otro` only ever
/// holds a name that is not a variant's: then a `match` and `==` agree.
macro_rules! texto_abierto {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A name comanda doesn't know, kept as it came.
            Otro(String),
        }

        impl $name {
            /// Every known one, in the order declared.
            pub const CONOCIDOS: &'static [$name] = &[$($name::$variant),+];

            /// The known one named `nombre`, without allocating.
            pub fn conocido(nombre: &str) -> Option<Self> {
                match nombre {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The name of a known one; `None` for `Otro`.
            pub fn nombre_conocido(&self) -> Option<&'static str> {
                match self {
                    $($name::$variant => Some($text),)+
                    $name::Otro(_) => None,
                }
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Otro(nombre) => nombre,
                }
            }
        }

        impl From<&str> for $name {
            fn from(nombre: &str) -> Self {
                $name::conocido(nombre).unwrap_or_else(|| $name::Otro(nombre.to_owned()))
            }
        }

        impl From<String> for $name {
            fn from(nombre: String) -> Self {
                $name::conocido(&nombre).unwrap_or($name::Otro(nombre))
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(s.into())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, otro: &str) -> bool {
                self.as_str() == otro
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, otro: &&str) -> bool {
                self.as_str() == *otro
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, otro: &String) -> bool {
                self.as_str() == otro
            }
        }

        $crate::modelo::texto::como_texto!($name);
    };
}
pub(crate) use texto_abierto;
