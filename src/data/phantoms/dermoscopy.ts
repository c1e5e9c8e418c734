/**
 * Synthetic dermoscopy image, RGB: textured skin of a random tone (smooth noise and fine skin lines),
 * sometimes the dark rim of the dermatoscope's field and dark curved hairs, and one pigmented lesion.
 * The two classes follow the ABCD rule of dermoscopy (Stolz et al., Eur J Dermatol 1994): label 0,
 * "nevus", is round or oval with a regular border and a uniform brown; label 1, "melanoma", is
 * asymmetric with an irregular border (radius modulated by several random harmonics) and three to
 * five of the melanoma colours (dark brown, black, blue-grey, red, light brown) in blotches. The
 * mask is 1 on the lesion in both classes (hairs over it do not change it).
 *
 * Output: `pixels` row-major size×size×3 RGB in [0, 1]; `mask` size×size.
 */
import type { Random } from '../../core/random.ts';
import { clamp01, drawStroke, fractalNoise, mix, sampleNoise, smoothstep } from './noise.ts';

type Colour = readonly [number, number, number];

const melanomaColours: readonly Colour[] = [
  [0.3, 0.17, 0.1], // dark brown
  [0.08, 0.06, 0.06], // black
  [0.42, 0.48, 0.58], // blue-grey
  [0.76, 0.3, 0.28], // red
  [0.6, 0.4, 0.26], // light brown
];

export function drawDermoscopy(
  random: Random,
  size: number,
  melanoma: boolean,
): { pixels: Float32Array; mask: Uint8Array } {
  const pixel = 1 / size;
  const tone = random.uniformIn(0.8, 0.95);
  const skin: Colour = [tone, tone * random.uniformIn(0.68, 0.8), tone * random.uniformIn(0.55, 0.68)];
  const rim = random.uniform() < 0.5 ? random.uniformIn(0.55, 0.7) : undefined; // dermatoscope field

  // Lesion outline: r(θ) = R·(1 + Σ a_k cos(kθ + φ_k)); low harmonics only for a nevus.
  const centreX = 0.5 + random.uniformIn(-0.08, 0.08);
  const centreY = 0.5 + random.uniformIn(-0.08, 0.08);
  const radius = melanoma ? random.uniformIn(0.16, 0.25) : random.uniformIn(0.11, 0.2);
  const harmonics: { order: number; amplitude: number; phase: number }[] = [];
  if (melanoma) {
    for (let order = 1; order <= 9; order++) {
      harmonics.push({
        order,
        amplitude: random.uniformIn(0.04, 0.3) / order ** 0.9,
        phase: random.uniformIn(0, 2 * Math.PI),
      });
    }
  } else {
    harmonics.push({
      order: 2,
      amplitude: random.uniformIn(0, 0.12),
      phase: random.uniformIn(0, 2 * Math.PI),
    });
    harmonics.push({
      order: 3,
      amplitude: random.uniformIn(0, 0.025),
      phase: random.uniformIn(0, 2 * Math.PI),
    });
  }
  const outline = (angle: number): number => {
    let scale = 1;
    for (const { order, amplitude, phase } of harmonics) scale += amplitude * Math.cos(order * angle + phase);
    return radius * Math.max(0.35, scale);
  };
  const edge = melanoma ? 0.04 : 0.06;

  // Colours: a nevus is one brown, darker towards its centre; a melanoma blends 3–5 colours by noise.
  const nevusRed = random.uniformIn(0.45, 0.6);
  const nevusBrown: Colour = [
    nevusRed,
    nevusRed * random.uniformIn(0.56, 0.64),
    nevusRed * random.uniformIn(0.3, 0.4),
  ];
  const palette: Colour[] = [];
  const fields: Float32Array[] = [];
  if (melanoma) {
    const others = [1, 2, 3, 4];
    for (let i = others.length - 1; i > 0; i--) {
      const j = random.integer(i + 1);
      [others[i], others[j]] = [others[j] ?? 0, others[i] ?? 0];
    }
    for (const colour of [0, ...others].slice(0, 3 + random.integer(3))) {
      palette.push(melanomaColours[colour] ?? [0, 0, 0]);
      fields.push(sampleNoise(fractalNoise(random, 5, 2), size));
    }
  }

  // Hairs: curved dark strokes across the field, in a third of the images.
  const hairs = new Float32Array(size * size);
  if (random.uniform() < 0.35) {
    const count = 1 + random.integer(8);
    for (let hair = 0; hair < count; hair++) {
      let x = random.uniform();
      let y = random.uniform();
      let angle = random.uniformIn(0, 2 * Math.PI);
      const bend = random.uniformIn(-3, 3);
      const width = random.uniformIn(0.004, 0.008);
      const steps = 10 + random.integer(30);
      for (let step = 0; step < steps; step++) {
        angle += bend * 0.02;
        const nextX = x + Math.cos(angle) * 0.02;
        const nextY = y + Math.sin(angle) * 0.02;
        drawStroke(hairs, size, { x0: x, y0: y, x1: nextX, y1: nextY, width, strength: 0.85 });
        x = nextX;
        y = nextY;
      }
    }
  }

  const texture = sampleNoise(fractalNoise(random, 5, 3), size);
  const pores = sampleNoise(fractalNoise(random, 24, 2), size);
  const pixels = new Float32Array(size * size * 3);
  const mask = new Uint8Array(size * size);
  const hairColour: Colour = [0.16, 0.1, 0.07];
  for (let row = 0; row < size; row++) {
    const y = (row + 0.5) * pixel;
    for (let column = 0; column < size; column++) {
      const x = (column + 0.5) * pixel;
      const index = row * size + column;
      const relative = Math.hypot(x - centreX, y - centreY) / outline(Math.atan2(y - centreY, x - centreX));
      const lesion = smoothstep(1 + edge, 1 - edge, relative);
      if (lesion >= 0.5) mask[index] = 1;
      const shade = 0.92 + 0.1 * (texture[index] ?? 0) + 0.04 * (pores[index] ?? 0);
      const vignette =
        rim === undefined ? 1 : smoothstep(rim + 0.04, rim - 0.04, Math.hypot(x - 0.5, y - 0.5));
      let weights = 0;
      const blend = [0, 0, 0];
      for (let colour = 0; colour < palette.length; colour++) {
        const weight = Math.exp(14 * (fields[colour]?.[index] ?? 0));
        weights += weight;
        for (let channel = 0; channel < 3; channel++)
          blend[channel] = (blend[channel] ?? 0) + weight * (palette[colour]?.[channel] ?? 0);
      }
      for (let channel = 0; channel < 3; channel++) {
        const lesionColour = melanoma
          ? (blend[channel] ?? 0) / weights
          : (nevusBrown[channel] ?? 0) * (0.8 + 0.2 * smoothstep(0, 1, relative));
        let value = (skin[channel] ?? 0) * shade;
        value = mix(value, lesionColour * shade, lesion * 0.95);
        value = mix(value, hairColour[channel] ?? 0, hairs[index] ?? 0);
        value = value * vignette + random.normal() * 0.01;
        pixels[index * 3 + channel] = clamp01(value);
      }
    }
  }
  return { pixels, mask };
}
