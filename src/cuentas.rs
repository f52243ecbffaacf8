//! Accounts and sucursales as a superadmin manages them: the domain behind
//! `/api/usuarios`, `/api/sucursales`, `comanda usuario crear`, the first start
//! and `--demo`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use time::OffsetDateTime;

use crate::auth::{self, hash_password};
use crate::modelo::{
    CambioUsuario, Invalido, NuevaSucursal, NuevoUsuario, Password, Rol, Sucursal, Usuario,
    UsuarioCambiado, UsuarioId,
};
use crate::realtime::CualesSesiones;
use crate::realtime::Realtime;
use crate::realtime::protocolo::cierre;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum CuentaError {
    #[error(transparent)]
    Invalido(#[from] Invalido),
    #[error("el usuario {0:?} ya existe")]
    UsuarioDuplicado(String),
    #[error("ya existe una sucursal llamada {0:?}")]
    SucursalDuplicada(String),
    #[error("la sucursal {0} no existe")]
    SucursalInexistente(i64),
    #[error("el usuario {0} no existe")]
    UsuarioInexistente(UsuarioId),
    #[error("un superadmin no puede quitarse a sí mismo el rol ni desactivarse")]
    AutoBloqueo,
    #[error("no se pudo calcular el hash de la contraseña: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for CuentaError {
    fn from(e: StoreError) -> Self {
        CuentaError::Store(e)
    }
}

pub async fn crear_sucursal(store: &Store, nueva: NuevaSucursal) -> Result<Sucursal, CuentaError> {
    let nueva = nueva.validar()?;
    store
        .crear_sucursal(&nueva.nombre)
        .await
        .map_err(|e| match e {
            StoreError::Duplicado(_) => CuentaError::SucursalDuplicada(nueva.nombre.clone()),
            e => e.into(),
        })
}

#[tracing::instrument(skip_all, fields(usuario = %nuevo.usuario, rol = %nuevo.rol))]
pub async fn crear_usuario(store: &Store, nuevo: NuevoUsuario) -> Result<Usuario, CuentaError> {
    let nuevo = nuevo.validar()?;
    if let Some(s) = nuevo.sucursal_id
        && store.sucursal(s).await?.is_none()
    {
        return Err(CuentaError::SucursalInexistente(s.0));
    }
    let hash = hash_password(&nuevo.password)
        .await
        .map_err(|e| CuentaError::Hash(e.to_string()))?;
    let usuario = store
        .crear_usuario(&nuevo, &hash, OffsetDateTime::now_utc())
        .await
        .map_err(|e| match e {
            StoreError::Duplicado(_) => CuentaError::UsuarioDuplicado(nuevo.usuario.clone()),
            StoreError::ReferenciaInexistente(_) => {
                CuentaError::SucursalInexistente(nuevo.sucursal_id.map_or(0, |s| s.0))
            }
            e => e.into(),
        })?;
    tracing::info!(usuario_id = %usuario.id, "usuario creado");
    Ok(usuario)
}

/// Applies a change by `autor`. Changing role, sucursal, password or
/// deactivating ends the user's open sessions (logins and sockets).
#[tracing::instrument(skip(store, realtime, cambio, autor), fields(autor = %autor.id))]
pub async fn cambiar_usuario(
    store: &Store,
    realtime: &Realtime,
    autor: &Usuario,
    id: UsuarioId,
    cambio: CambioUsuario,
) -> Result<Usuario, CuentaError> {
    let actual = store
        .usuario(id)
        .await?
        .ok_or(CuentaError::UsuarioInexistente(id))?;
    let nuevo = cambio.aplicar(&actual)?;
    if id == autor.id && (nuevo.rol != actual.rol || !nuevo.activo) {
        return Err(CuentaError::AutoBloqueo);
    }
    if let Some(s) = nuevo.sucursal_id
        && store.sucursal(s).await?.is_none()
    {
        return Err(CuentaError::SucursalInexistente(s.0));
    }
    let hash = match &cambio.password {
        Some(p) => Some(
            hash_password(p)
                .await
                .map_err(|e| CuentaError::Hash(e.to_string()))?,
        ),
        None => None,
    };
    let revocar = cambio.revoca_sesiones(&actual);
    let cambios = campos_cambiados(&actual, &nuevo, hash.is_some());
    // Audited, and the revocation's way to every node's sockets.
    let evento = (revocar || !cambios.is_empty())
        .then(|| auth::usuario_actualizado(autor, &actual, &cambios, revocar));
    let usuario = store
        .actualizar_usuario(id, &nuevo, hash.as_deref(), revocar, evento)
        .await?
        .ok_or(CuentaError::UsuarioInexistente(id))?;
    if revocar {
        // The event closes them on every node; here at once.
        realtime
            .cerrar_sesiones(
                CualesSesiones::DeUsuario(id),
                cierre::PROHIBIDO,
                auth::CUENTA_CAMBIADA,
            )
            .await;
    }
    Ok(usuario)
}

/// The names of the fields a change alters (a password given is a change,
/// even if it is the same one): what `usuario_actualizado` tells, never
/// their values.
fn campos_cambiados(
    actual: &Usuario,
    nuevo: &UsuarioCambiado,
    password: bool,
) -> Vec<&'static str> {
    [
        ("nombre", nuevo.nombre != actual.nombre),
        ("rol", nuevo.rol != actual.rol),
        ("sucursal_id", nuevo.sucursal_id != actual.sucursal_id),
        ("activo", nuevo.activo != actual.activo),
        ("password", password),
    ]
    .into_iter()
    .filter_map(|(campo, cambio)| cambio.then_some(campo))
    .collect()
}

/// A superadmin created on the first start, with the password to show once.
pub struct SuperadminInicial {
    pub usuario: Usuario,
    pub password: String,
}

/// With no user at all, creates `superadmin` with a random password.
pub async fn primer_arranque(store: &Store) -> Result<Option<SuperadminInicial>, CuentaError> {
    if store.contar_usuarios().await? > 0 {
        return Ok(None);
    }
    let mut bytes = [0u8; 15];
    rand::rng().fill_bytes(&mut bytes);
    let password = URL_SAFE_NO_PAD.encode(bytes);
    let usuario = crear_usuario(
        store,
        NuevoUsuario {
            usuario: "superadmin".into(),
            nombre: Some("Superadmin".into()),
            password: Password::parse(password.clone())?,
            rol: Rol::Superadmin,
            sucursal_id: None,
        },
    )
    .await?;
    Ok(Some(SuperadminInicial { usuario, password }))
}

/// The password of every demo account (README, "Demo").
pub const DEMO_PASSWORD: &str = "conychips";

/// A demo account: login name, role, sucursal index (1 or 2) if any.
pub const DEMO_USUARIOS: [(&str, Rol, Option<usize>); 9] = [
    ("superadmin", Rol::Superadmin, None),
    ("atencion1", Rol::Atencion, Some(1)),
    ("cocina1", Rol::Cocina, Some(1)),
    ("admin1", Rol::Admin, Some(1)),
    ("servicio1", Rol::Servicio, Some(1)),
    ("atencion2", Rol::Atencion, Some(2)),
    ("cocina2", Rol::Cocina, Some(2)),
    ("admin2", Rol::Admin, Some(2)),
    ("servicio2", Rol::Servicio, Some(2)),
];

pub const DEMO_SUCURSALES: [&str; 2] = ["Cony Chips Centro", "Cony Chips Norte"];

/// Creates the demo sucursales and accounts that are missing; existing ones
/// are left as they are. Answers the sucursales and every demo account.
pub async fn demo(store: &Store) -> Result<(Vec<Sucursal>, Vec<Usuario>), CuentaError> {
    let mut sucursales = Vec::new();
    for nombre in DEMO_SUCURSALES {
        sucursales.push(store.asegurar_sucursal(nombre).await?);
    }
    let mut usuarios = Vec::new();
    for (login, rol, sucursal) in DEMO_USUARIOS {
        let existente = store.credenciales(login).await?.map(|(u, _)| u);
        let usuario = match existente {
            Some(u) => u,
            None => {
                crear_usuario(
                    store,
                    NuevoUsuario {
                        usuario: login.into(),
                        nombre: None,
                        password: Password::parse(DEMO_PASSWORD.into())?,
                        rol,
                        sucursal_id: sucursal.map(|i| sucursales[i - 1].id),
                    },
                )
                .await?
            }
        };
        usuarios.push(usuario);
    }
    Ok((sucursales, usuarios))
}
