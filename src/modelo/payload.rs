//! The payloads of the workflows' events (orders, kitchen alerts, refills,
//! vouchers): one struct per shape, serialized to the very JSON the screens,
//! the rules and the audit log have always read.
//!
//! A row's own id (`alerta_id`, `pedido_id`, …) of a creation event is
//! written by the store with the row ([`NuevoEvento::con_id_de_fila`]), and
//! so are an order event's `pendientes` and a new voucher's
//! `posible_duplicado`.
//!
//! The Cocina reads the kinds it follows back into these structs. The two
//! the seed's `notify()` may also publish flat (`alerta_cocina`,
//! `refill_solicitado`) come then with whatever fields it sent: a field
//! left out, or of another type, reads as its default, as the screens read
//! it. The others are published by comanda's workflows alone
//! (`eventos::RESERVADOS`) and read strictly.
//!
//! [`NuevoEvento::con_id_de_fila`]: super::NuevoEvento::con_id_de_fila

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::{
    AlertaId, EstadoPedido, EstadoRefill, Monto, OrigenPedido, PedidoId, Prioridad, RefillId,
    UsuarioId, VoucherId,
};

/// A payload as the map an event carries.
pub fn en_mapa(payload: &impl Serialize) -> Map<String, Value> {
    match serde_json::to_value(payload) {
        Ok(Value::Object(mapa)) => mapa,
        // Each payload is a struct of plain fields and times of now.
        otro => unreachable!("un payload es un objeto JSON: {otro:?}"),
    }
}

/// `alerta_cocina`: the desk alerts the kitchen (or the seed's flat alert).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadAlertaCocina {
    /// The row's, once written; a flat alert may name one or none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "tolerante"
    )]
    pub alerta_id: Option<AlertaId>,
    #[serde(default, deserialize_with = "tolerante")]
    pub pedido_id: Option<PedidoId>,
    #[serde(default, deserialize_with = "tolerante")]
    pub mensaje: String,
    /// What the desk asked for; the envelope's `prioridad` is what the rules decided.
    #[serde(default, deserialize_with = "tolerante")]
    pub prioridad_pedida: Option<Prioridad>,
    #[serde(default, deserialize_with = "tolerante")]
    pub usuario_envia: UsuarioId,
    #[serde(default, deserialize_with = "tolerante")]
    pub enviada_por: String,
    /// When the desk sent it, which an escalated alert's event is later
    /// than; a flat alert without it was sent when it was published.
    #[serde(
        default,
        serialize_with = "time::serde::rfc3339::option::serialize",
        deserialize_with = "fecha_tolerante"
    )]
    pub fecha_envio: Option<OffsetDateTime>,
}

/// `alerta_leida`: the kitchen read an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadAlertaLeida {
    pub alerta_id: AlertaId,
    pub pedido_id: Option<PedidoId>,
    pub mensaje: String,
    pub leida_por: UsuarioId,
    pub leida_por_nombre: String,
    #[serde(with = "time::serde::rfc3339")]
    pub fecha_lectura: OffsetDateTime,
}

/// `alerta_escalada`: the escalation rule raised an unread alert; the
/// envelope's `prioridad` is the new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadAlertaEscalada {
    pub alerta_id: AlertaId,
    pub pedido_id: Option<PedidoId>,
    pub mensaje: String,
    pub desde: Prioridad,
    pub minutos_sin_leer: i64,
}

/// `pedido_nuevo`: an order registered by the desk or the WhatsApp bot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayloadPedidoNuevo {
    pub origen: OrigenPedido,
    pub cliente: String,
    pub detalle: String,
    pub total: Monto,
    pub estado: EstadoPedido,
}

/// `pedido_aprobado` and `pedido_estado`: an order moved from one state to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayloadPedidoMovido {
    pub pedido_id: PedidoId,
    pub desde: EstadoPedido,
    pub estado: EstadoPedido,
    pub cliente: String,
    pub total: Monto,
    /// The voucher whose approval approved the order, if that is how.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub por_voucher: Option<VoucherId>,
}

/// `refill_solicitado`: the desk asks the kitchen for more of something
/// (or the seed's flat request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadRefillSolicitado {
    /// The row's, once written; a flat request may name one or none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "tolerante"
    )]
    pub refill_id: Option<RefillId>,
    #[serde(default, deserialize_with = "tolerante")]
    pub producto: String,
    /// One, in a flat request that doesn't say.
    #[serde(default = "una", deserialize_with = "cantidad_tolerante")]
    pub cantidad: i64,
    #[serde(default, deserialize_with = "tolerante")]
    pub nota: Option<String>,
    #[serde(default, deserialize_with = "tolerante")]
    pub estado: EstadoRefill,
    #[serde(default, deserialize_with = "tolerante")]
    pub pedido_por: String,
}

/// `refill_estado`: the kitchen works a refill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadRefillEstado {
    pub refill_id: RefillId,
    pub producto: String,
    pub cantidad: i32,
    pub desde: EstadoRefill,
    pub estado: EstadoRefill,
    pub atendido_por: UsuarioId,
    pub atendido_por_nombre: String,
}

/// `voucher_nuevo`: a payment voucher registered (`subtipo` says by whom).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayloadVoucherNuevo {
    pub pedido_id: Option<PedidoId>,
    pub monto: Monto,
    pub numero_operacion: String,
    pub imagen_url: Option<String>,
    pub telefono: Option<String>,
}

/// `voucher_aprobado` and `voucher_rechazado`: a voucher reviewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayloadVoucherRevisado {
    pub voucher_id: VoucherId,
    pub pedido_id: Option<PedidoId>,
    pub monto: Monto,
    pub numero_operacion: String,
    /// Why it was rejected; `null` when approved.
    pub motivo: Option<String>,
    pub revisado_por: UsuarioId,
    pub revisado_por_nombre: String,
}

/// A field as a flat publication may send it: of another type it reads as
/// the field's default, as if it were left out.
fn tolerante<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    Ok(T::deserialize(Value::deserialize(d)?).unwrap_or_default())
}

fn una() -> i64 {
    1
}

fn cantidad_tolerante<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(tolerante::<D, Option<i64>>(d)?.unwrap_or_else(una))
}

/// An RFC 3339 time, or `None` for anything else.
fn fecha_tolerante<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
    let texto: Option<String> = tolerante(d)?;
    Ok(texto.and_then(|t| {
        OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339).ok()
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ahora() -> OffsetDateTime {
        time::macros::datetime!(2026-11-29 12:00:00.123456 UTC)
    }

    fn rfc3339(t: OffsetDateTime) -> String {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    }

    /// Each payload against the `json!` the workflow wrote before it had a struct.
    #[test]
    fn cada_payload_es_el_json_de_siempre() {
        let alerta = PayloadAlertaCocina {
            alerta_id: None,
            pedido_id: Some(PedidoId(50)),
            mensaje: "sin papas".into(),
            prioridad_pedida: None,
            usuario_envia: UsuarioId(7),
            enviada_por: "Ana".into(),
            fecha_envio: Some(ahora()),
        };
        assert_eq!(
            Value::Object(en_mapa(&alerta)),
            json!({"pedido_id": Some(PedidoId(50)), "mensaje": "sin papas",
                   "prioridad_pedida": None::<Prioridad>, "usuario_envia": UsuarioId(7),
                   "enviada_por": "Ana", "fecha_envio": rfc3339(ahora())})
        );

        let leida = PayloadAlertaLeida {
            alerta_id: AlertaId(10),
            pedido_id: None,
            mensaje: "sin papas".into(),
            leida_por: UsuarioId(3),
            leida_por_nombre: "Cocina".into(),
            fecha_lectura: ahora(),
        };
        assert_eq!(
            Value::Object(en_mapa(&leida)),
            json!({"alerta_id": AlertaId(10), "pedido_id": None::<PedidoId>, "mensaje": "sin papas",
                   "leida_por": UsuarioId(3), "leida_por_nombre": "Cocina",
                   "fecha_lectura": rfc3339(ahora())})
        );

        let escalada = PayloadAlertaEscalada {
            alerta_id: AlertaId(10),
            pedido_id: Some(PedidoId(50)),
            mensaje: "sin papas".into(),
            desde: Prioridad::Normal,
            minutos_sin_leer: 6,
        };
        assert_eq!(
            Value::Object(en_mapa(&escalada)),
            json!({"alerta_id": 10_i64, "pedido_id": Some(50_i64),
                   "mensaje": "sin papas", "desde": Prioridad::Normal,
                   "minutos_sin_leer": 6_i64})
        );

        let nuevo = PayloadPedidoNuevo {
            origen: OrigenPedido::Whatsapp,
            cliente: "Ana".into(),
            detalle: "2 salchipapas".into(),
            total: Monto(2550),
            estado: EstadoPedido::Pendiente,
        };
        assert_eq!(
            Value::Object(en_mapa(&nuevo)),
            json!({"origen": OrigenPedido::Whatsapp, "cliente": "Ana", "detalle": "2 salchipapas",
                   "total": Monto(2550), "estado": EstadoPedido::Pendiente})
        );

        let movido = PayloadPedidoMovido {
            pedido_id: PedidoId(50),
            desde: EstadoPedido::EnPreparacion,
            estado: EstadoPedido::Listo,
            cliente: "Ana".into(),
            total: Monto(2550),
            por_voucher: None,
        };
        assert_eq!(
            Value::Object(en_mapa(&movido)),
            json!({"pedido_id": PedidoId(50), "desde": EstadoPedido::EnPreparacion,
                   "estado": EstadoPedido::Listo, "cliente": "Ana", "total": Monto(2550)})
        );
        let por_voucher = PayloadPedidoMovido {
            desde: EstadoPedido::Pendiente,
            estado: EstadoPedido::EnPreparacion,
            por_voucher: Some(VoucherId(4)),
            ..movido
        };
        assert_eq!(
            Value::Object(en_mapa(&por_voucher)),
            json!({"pedido_id": PedidoId(50), "desde": EstadoPedido::Pendiente,
                   "estado": EstadoPedido::EnPreparacion, "cliente": "Ana",
                   "total": Monto(2550), "por_voucher": VoucherId(4)})
        );

        let refill = PayloadRefillSolicitado {
            refill_id: None,
            producto: "papas".into(),
            cantidad: 3,
            nota: None,
            estado: EstadoRefill::Pendiente,
            pedido_por: "Ana".into(),
        };
        assert_eq!(
            Value::Object(en_mapa(&refill)),
            json!({"producto": "papas", "cantidad": 3_i32, "nota": None::<String>,
                   "estado": EstadoRefill::Pendiente, "pedido_por": "Ana"})
        );

        let trabajado = PayloadRefillEstado {
            refill_id: RefillId(8),
            producto: "papas".into(),
            cantidad: 3,
            desde: EstadoRefill::Pendiente,
            estado: EstadoRefill::EnProceso,
            atendido_por: UsuarioId(3),
            atendido_por_nombre: "Cocina".into(),
        };
        assert_eq!(
            Value::Object(en_mapa(&trabajado)),
            json!({"refill_id": RefillId(8), "producto": "papas", "cantidad": 3_i32,
                   "desde": EstadoRefill::Pendiente, "estado": EstadoRefill::EnProceso,
                   "atendido_por": UsuarioId(3), "atendido_por_nombre": "Cocina"})
        );

        let voucher = PayloadVoucherNuevo {
            pedido_id: None,
            monto: Monto(1999),
            numero_operacion: "OP-1".into(),
            imagen_url: Some("https://x/y.png".into()),
            telefono: None,
        };
        assert_eq!(
            Value::Object(en_mapa(&voucher)),
            json!({"pedido_id": None::<PedidoId>, "monto": Monto(1999),
                   "numero_operacion": "OP-1", "imagen_url": Some("https://x/y.png"),
                   "telefono": None::<String>})
        );

        let revisado = PayloadVoucherRevisado {
            voucher_id: VoucherId(4),
            pedido_id: Some(PedidoId(50)),
            monto: Monto(1999),
            numero_operacion: "OP-1".into(),
            motivo: Some("borroso".into()),
            revisado_por: UsuarioId(2),
            revisado_por_nombre: "Jefa".into(),
        };
        assert_eq!(
            Value::Object(en_mapa(&revisado)),
            json!({"voucher_id": VoucherId(4), "pedido_id": Some(PedidoId(50)),
                   "monto": Monto(1999), "numero_operacion": "OP-1",
                   "motivo": Some("borroso"), "revisado_por": UsuarioId(2),
                   "revisado_por_nombre": "Jefa"})
        );
    }

    #[test]
    fn una_alerta_plana_se_lee_con_lo_que_trae() {
        let plana = json!({"alerta_id": 10, "mensaje": "Pedido urgente", "pedido_id": "50",
                           "fecha_envio": "ayer", "cliente": "Ana"});
        let p: PayloadAlertaCocina = serde_json::from_value(plana).unwrap();
        assert_eq!(p.alerta_id, Some(AlertaId(10)));
        assert_eq!(p.mensaje, "Pedido urgente");
        assert_eq!((p.pedido_id, p.fecha_envio), (None, None));
        let vacia: PayloadAlertaCocina = serde_json::from_value(json!({"mensaje": 5})).unwrap();
        assert_eq!(vacia.mensaje, "");
        assert_eq!(vacia.usuario_envia, UsuarioId::default());

        let ida = PayloadAlertaCocina {
            fecha_envio: Some(ahora()),
            ..vacia
        };
        let vuelta: PayloadAlertaCocina =
            serde_json::from_value(Value::Object(en_mapa(&ida))).unwrap();
        assert_eq!(vuelta, ida);
    }

    #[test]
    fn un_refill_plano_pide_uno_si_no_dice_cuantos() {
        let p: PayloadRefillSolicitado =
            serde_json::from_value(json!({"producto": "papas"})).unwrap();
        assert_eq!((p.producto.as_str(), p.cantidad), ("papas", 1));
        assert_eq!(p.estado, EstadoRefill::Pendiente);
        let p: PayloadRefillSolicitado =
            serde_json::from_value(json!({"cantidad": "dos", "refill_id": 4})).unwrap();
        assert_eq!((p.refill_id, p.cantidad), (Some(RefillId(4)), 1));
        let p: PayloadRefillSolicitado =
            serde_json::from_value(json!({"cantidad": 5_000_000_000_i64})).unwrap();
        assert_eq!(p.cantidad, 5_000_000_000);
    }
}
