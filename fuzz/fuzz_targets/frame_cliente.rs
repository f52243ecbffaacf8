//! A client's WebSocket text frame (design §6) through `parse_entrante`: any
//! text is a message, a flat publication, or the message of an `error` frame;
//! never a panic, and the three agree with what the JSON says.

#![no_main]

use comanda::realtime::protocolo::{Entrante, MensajeCliente, parse_entrante};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|datos: &[u8]| {
    // The frame reader (`realtime::frame`, fuzzed by `lector_de_frames`)
    // hands the session only valid UTF-8 text; the lossy decoding keeps
    // every input useful instead of discarding the invalid ones.
    let texto = String::from_utf8_lossy(datos);
    let resultado = parse_entrante(&texto);
    let valor = serde_json::from_str::<Value>(&texto).ok();
    let objeto = valor.as_ref().and_then(Value::as_object);
    match resultado {
        Ok(Entrante::Mensaje(mensaje)) => {
            let objeto = objeto.expect("un mensaje es un objeto JSON");
            let tipo = objeto.get("type").and_then(Value::as_str);
            match mensaje {
                MensajeCliente::Ping => {
                    assert_eq!(tipo, Some("ping"));
                    assert!(objeto.keys().all(|k| k == "type"), "{objeto:?}");
                }
                MensajeCliente::Reanudar { ultimo_id } => {
                    assert_eq!(tipo, Some("reanudar"));
                    assert!(objeto.keys().all(|k| k == "type" || k == "ultimo_id"));
                    assert_eq!(objeto["ultimo_id"].as_i64(), Some(ultimo_id.0));
                }
            }
        }
        Ok(Entrante::Publicacion(plano)) => {
            let objeto = objeto.expect("una publicación es un objeto JSON");
            assert!(!objeto.contains_key("type") && objeto.contains_key("tipo"));
            assert_eq!(&plano, objeto);
        }
        Err(mensaje) => {
            assert!(!mensaje.is_empty());
            // Only what is not a frame of the protocol is refused.
            if let Some(objeto) = objeto {
                assert!(
                    objeto.contains_key("type") || !objeto.contains_key("tipo"),
                    "una publicación rechazada: {mensaje}"
                );
            }
        }
    }
});
