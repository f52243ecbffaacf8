// Tonos con WebAudio (sin archivos de audio). El navegador solo deja sonar
// después de un toque del usuario: `activar()` se llama desde un clic.

let contexto = null;

/** Crea o reanuda el audio; debe llamarse desde un gesto del usuario. */
export async function activar() {
  const Contexto = window.AudioContext || window.webkitAudioContext;
  if (!Contexto) return false;
  if (!contexto) contexto = new Contexto();
  try {
    await contexto.resume();
  } catch {
    return false;
  }
  return contexto.state === "running";
}

export function activo() {
  return contexto !== null && contexto.state === "running";
}

// Cada prioridad suena distinto: urgente, tres pitidos agudos y ásperos;
// alta, dos pitidos medios; normal, uno suave. Un pedido nuevo, un «ding-dong».
const TONOS = {
  urgente: { forma: "square", notas: [988, 1319, 988, 1319, 988, 1319], duracion: 0.12, pausa: 0.05, volumen: 0.25 },
  alta: { forma: "sawtooth", notas: [784, 784], duracion: 0.22, pausa: 0.12, volumen: 0.18 },
  normal: { forma: "sine", notas: [587], duracion: 0.45, pausa: 0, volumen: 0.3 },
  pedido: { forma: "triangle", notas: [880, 659], duracion: 0.28, pausa: 0.04, volumen: 0.35 },
};

export function tono(tipo) {
  if (!activo()) return false;
  const t = TONOS[tipo] || TONOS.normal;
  let inicio = contexto.currentTime + 0.02;
  for (const frecuencia of t.notas) {
    const osc = contexto.createOscillator();
    const ganancia = contexto.createGain();
    osc.type = t.forma;
    osc.frequency.value = frecuencia;
    ganancia.gain.setValueAtTime(0.0001, inicio);
    ganancia.gain.exponentialRampToValueAtTime(t.volumen, inicio + 0.015);
    ganancia.gain.exponentialRampToValueAtTime(0.0001, inicio + t.duracion);
    osc.connect(ganancia).connect(contexto.destination);
    osc.start(inicio);
    osc.stop(inicio + t.duracion + 0.02);
    inicio += t.duracion + t.pausa;
  }
  return true;
}
