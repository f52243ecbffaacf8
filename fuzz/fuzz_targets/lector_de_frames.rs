//! The bytes a client writes after its handshake, through comanda's frame
//! reader (`realtime::frame::Decoder`): never a panic; the same frames and
//! the same error whatever pieces the bytes arrive in; never more asked
//! for than one frame within the limit; and what comes out obeys RFC 6455.

#![no_main]

use actix_web::web::BytesMut;
use comanda::realtime::LIMITE_FRAME;
use comanda::realtime::frame::{Decoded, Decoder, FrameCliente, FrameError, close_code_allowed};
use libfuzzer_sys::fuzz_target;

/// The server's limit, and a small one that short inputs reach.
const LIMITES: [usize; 2] = [LIMITE_FRAME, 64];
/// The longest header: 2 bytes, a 64-bit length and the mask.
const CABECERA: usize = 14;

/// What the decoder makes of `bytes` handed over `trozo` bytes at a time:
/// the frames, then the error that failed the connection, if any.
fn leer(bytes: &[u8], limite: usize, trozo: usize) -> (Vec<FrameCliente>, Option<FrameError>) {
    let mut decoder = Decoder::new(limite);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for pieza in bytes.chunks(trozo.max(1)) {
        buf.extend_from_slice(pieza);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Decoded::Frame(frame)) => frames.push(frame),
                Ok(Decoded::Need(n)) => {
                    assert!(n > buf.len(), "pide {n} bytes teniendo {}", buf.len());
                    assert!(n <= limite + CABECERA, "pide {n} bytes con un límite de {limite}");
                    break;
                }
                Err(e) => return (frames, Some(e)),
            }
        }
    }
    (frames, None)
}

fuzz_target!(|datos: &[u8]| {
    // Byte 0: the size of the pieces; the rest: what the client writes.
    let Some((&trozo, bytes)) = datos.split_first() else {
        return;
    };
    for limite in LIMITES {
        let entero = leer(bytes, limite, bytes.len());
        assert_eq!(leer(bytes, limite, usize::from(trozo)), entero, "en trozos de {trozo}");
        let (frames, error) = entero;
        for frame in &frames {
            match frame {
                FrameCliente::Texto(t) => assert!(t.len() <= limite),
                FrameCliente::Binario(b) => assert!(b.len() <= limite),
                FrameCliente::Ping(b) | FrameCliente::Pong(b) => assert!(b.len() <= 125),
                FrameCliente::Cierre(Some(motivo)) => {
                    assert!(close_code_allowed(u16::from(motivo.code)), "{motivo:?}");
                    let largo = motivo.description.as_ref().map_or(0, String::len);
                    assert!(largo <= 123, "{motivo:?}");
                }
                FrameCliente::Cierre(None) => {}
            }
        }
        if let Some(e) = error {
            assert!(matches!(e.close_code(), 1002 | 1007 | 1009), "{e:?}");
            assert!(e.to_string().len() <= 123, "{e}");
        }
    }
});
