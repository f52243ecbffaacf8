//! The seed's workflows as rows and parsed requests: orders, vouchers, the
//! desk's alerts and refill requests.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

use super::texto::texto_enum;
use super::{Invalido, PedidoId, Prioridad, SucursalId, UsuarioId, VoucherId};

/// Money in céntimos: exact, on both stores. Travels as a number with two
/// decimals (`25.5` is S/ 25.50).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, sqlx::Type)]
#[sqlx(transparent)]
pub struct Monto(pub i64);

impl Serialize for Monto {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0 as f64 / 100.0)
    }
}

impl<'de> Deserialize<'de> for Monto {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let valor = f64::deserialize(d)?;
        if !valor.is_finite() || valor < 0.0 {
            return Err(serde::de::Error::custom(
                "el monto debe ser un número no negativo",
            ));
        }
        if valor > 10_000_000.0 {
            return Err(serde::de::Error::custom("el monto supera S/ 10 000 000"));
        }
        Ok(Monto((valor * 100.0).round() as i64))
    }
}

texto_enum! {
    pub enum EstadoPedido {
        Pendiente = "PENDIENTE",
        EnPreparacion = "EN_PREPARACION",
        Listo = "LISTO",
        Entregado = "ENTREGADO",
        Cancelado = "CANCELADO",
    }
}

impl EstadoPedido {
    /// The moves `POST /api/pedidos/{id}/estado` allows. `aprobar` is the
    /// only way out of PENDIENTE other than cancelling.
    pub fn puede_pasar_a(self, nuevo: EstadoPedido) -> bool {
        use EstadoPedido::*;
        matches!(
            (self, nuevo),
            (EnPreparacion, Listo)
                | (Listo, Entregado)
                | (Pendiente | EnPreparacion | Listo, Cancelado)
        )
    }
}

texto_enum! {
    pub enum OrigenPedido {
        Tienda = "tienda",
        Whatsapp = "whatsapp",
    }
}

/// A row of `pedidos`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Pedido {
    pub id: PedidoId,
    pub sucursal_id: SucursalId,
    pub origen: OrigenPedido,
    pub cliente: String,
    pub detalle: String,
    pub total: Monto,
    pub estado: EstadoPedido,
    #[serde(with = "time::serde::rfc3339")]
    pub creado: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub actualizado: OffsetDateTime,
}

/// `POST /api/pedidos` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NuevoPedido {
    #[serde(default)]
    pub sucursal_id: Option<SucursalId>,
    pub cliente: String,
    pub detalle: String,
    pub total: Monto,
}

impl NuevoPedido {
    pub fn validar(mut self) -> Result<Self, Invalido> {
        self.cliente = texto_requerido("cliente", &self.cliente, 100)?;
        self.detalle = texto_requerido("detalle", &self.detalle, 1000)?;
        Ok(self)
    }
}

texto_enum! {
    pub enum EstadoVoucher {
        Pendiente = "pendiente",
        Aprobado = "aprobado",
        Rechazado = "rechazado",
    }
}

/// A row of `vouchers`, with whether its `numero_operacion` was seen on
/// another voucher of the same sucursal (the usual fraud: one screenshot,
/// edited and sent again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Voucher {
    pub id: VoucherId,
    pub sucursal_id: SucursalId,
    pub pedido_id: Option<PedidoId>,
    pub monto: Monto,
    pub numero_operacion: String,
    pub imagen_url: Option<String>,
    pub telefono: Option<String>,
    pub estado: EstadoVoucher,
    pub motivo: Option<String>,
    pub revisado_por: Option<UsuarioId>,
    #[serde(with = "time::serde::rfc3339")]
    pub creado: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revisado: Option<OffsetDateTime>,
    pub posible_duplicado: bool,
}

/// `POST /api/vouchers` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NuevoVoucher {
    #[serde(default)]
    pub sucursal_id: Option<SucursalId>,
    #[serde(default)]
    pub pedido_id: Option<PedidoId>,
    pub monto: Monto,
    pub numero_operacion: String,
    #[serde(default)]
    pub imagen_url: Option<String>,
    #[serde(default)]
    pub telefono: Option<String>,
}

impl NuevoVoucher {
    pub fn validar(mut self) -> Result<Self, Invalido> {
        self.numero_operacion = texto_requerido("numero_operacion", &self.numero_operacion, 64)?;
        self.imagen_url = texto_opcional("imagen_url", self.imagen_url, 1000)?;
        if let Some(url) = &self.imagen_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(Invalido::new("imagen_url debe ser una dirección http(s)"));
        }
        self.telefono = texto_opcional("telefono", self.telefono, 32)?;
        Ok(self)
    }
}

/// `POST /api/alertas` body: the desk alerts the kitchen.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NuevaAlertaCocina {
    #[serde(default)]
    pub sucursal_id: Option<SucursalId>,
    #[serde(default)]
    pub pedido_id: Option<PedidoId>,
    pub mensaje: String,
    /// What the desk wishes; the rules decide.
    #[serde(default)]
    pub prioridad: Option<Prioridad>,
}

impl NuevaAlertaCocina {
    pub fn validar(mut self) -> Result<Self, Invalido> {
        self.mensaje = texto_requerido("mensaje", &self.mensaje, 500)?;
        Ok(self)
    }
}

/// `POST /api/refills` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NuevoRefill {
    #[serde(default)]
    pub sucursal_id: Option<SucursalId>,
    pub producto: String,
    pub cantidad: i32,
    #[serde(default)]
    pub nota: Option<String>,
}

impl NuevoRefill {
    pub fn validar(mut self) -> Result<Self, Invalido> {
        self.producto = texto_requerido("producto", &self.producto, 100)?;
        if !(1..=1000).contains(&self.cantidad) {
            return Err(Invalido::new("la cantidad debe estar entre 1 y 1000"));
        }
        self.nota = texto_opcional("nota", self.nota, 500)?;
        Ok(self)
    }
}

fn texto_requerido(campo: &str, texto: &str, maximo: usize) -> Result<String, Invalido> {
    let texto = texto.trim();
    match texto.chars().count() {
        0 => Err(Invalido::new(format!("{campo} no puede estar vacío"))),
        n if n > maximo => Err(Invalido::new(format!(
            "{campo} tiene más de {maximo} caracteres"
        ))),
        _ if tiene_nulo(texto) => Err(Invalido::new(format!("{campo} contiene el carácter nulo"))),
        _ => Ok(texto.to_owned()),
    }
}

/// Postgres can't store U+0000 in text (SQLite can): refused on both, so
/// that junk gets the same 400 from either store instead of a 500 from one.
fn tiene_nulo(texto: &str) -> bool {
    texto.contains('\0')
}

fn texto_opcional(
    campo: &str,
    texto: Option<String>,
    maximo: usize,
) -> Result<Option<String>, Invalido> {
    match texto.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => texto_requerido(campo, t, maximo).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn los_montos_son_exactos_y_no_negativos() {
        let m: Monto = serde_json::from_str("25.5").unwrap();
        assert_eq!(m, Monto(2550));
        assert_eq!(serde_json::to_string(&Monto(1999)).unwrap(), "19.99");
        assert_eq!(serde_json::from_str::<Monto>("0.1").unwrap(), Monto(10));
        assert!(serde_json::from_str::<Monto>("-1").is_err());
    }

    #[test]
    fn transiciones_de_pedido() {
        use EstadoPedido::*;
        assert!(EnPreparacion.puede_pasar_a(Listo));
        assert!(Listo.puede_pasar_a(Entregado));
        assert!(Pendiente.puede_pasar_a(Cancelado));
        assert!(!Entregado.puede_pasar_a(Cancelado));
        assert!(!Pendiente.puede_pasar_a(Listo));
        assert!(!Cancelado.puede_pasar_a(Pendiente));
    }

    #[test]
    fn un_texto_con_el_caracter_nulo_se_rechaza() {
        assert!(texto_requerido("cliente", "Ana\0", 100).is_err());
        assert!(texto_opcional("nota", Some("\0".into()), 100).is_err());
        assert_eq!(texto_requerido("cliente", " Ana ", 100).unwrap(), "Ana");
    }

    #[test]
    fn mensajes_de_mas_de_500_caracteres_se_rechazan() {
        let a = NuevaAlertaCocina {
            sucursal_id: None,
            pedido_id: None,
            mensaje: "x".repeat(501),
            prioridad: None,
        };
        assert!(a.validar().is_err());
    }
}
