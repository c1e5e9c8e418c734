/**
 * Synthetic frontal (PA) chest radiograph, grey: a body silhouette with neck and shoulders against air;
 * two dark lung fields (rounded, narrowing to the apices, floored by the diaphragm domes, the right
 * hemidiaphragm higher); a bright mediastinum with the trachea and a heart shadow bulging into the left
 * lung; posterior rib arcs (and fainter anterior ones) over the lungs; clavicles; soft-tissue and lung
 * texture and quantum noise; a random exposure. Label 1, "opacity" (Fleischner Society glossary,
 * Hansell et al., Radiology 2008: an area of increased attenuation, e.g. consolidation), adds one to
 * three soft-edged, irregular bright opacities confined to a lung; the mask is 1 on them.
 *
 * Output: `pixels` row-major size×size (one channel) in [0, 1]; `mask` size×size.
 */
import type { Random } from '../../core/random.ts';
import { clamp01, drawStroke, fractalNoise, mix, sampleNoise, smoothstep } from './noise.ts';

interface Opacity {
  x: number;
  y: number;
  radius: number;
  intensity: number;
}

export function drawChestXray(
  random: Random,
  size: number,
  diseased: boolean,
): { pixels: Float32Array; mask: Uint8Array } {
  const pixel = 1 / size;
  const midline = 0.5 + random.uniformIn(-0.02, 0.02);
  const bodyHalfWidth = random.uniformIn(0.41, 0.47);
  const lungOffset = random.uniformIn(0.2, 0.22);
  const lungHalfWidth = random.uniformIn(0.15, 0.175);
  const lungTop = random.uniformIn(0.12, 0.16);
  const diaphragm = random.uniformIn(0.72, 0.78);
  const heartX = midline + random.uniformIn(0.04, 0.07);
  const heartY = diaphragm - random.uniformIn(0.1, 0.13);
  const heartRadiusX = random.uniformIn(0.16, 0.2);
  const heartRadiusY = random.uniformIn(0.12, 0.15);
  const contrast = random.uniformIn(0.85, 1.15);
  const brightness = random.uniformIn(-0.05, 0.05);

  /** Soft membership of (x, y) in a lung (side −1: image left, the patient's right). */
  const lung = (x: number, y: number): number => {
    const side = x < midline ? -1 : 1;
    const centreX = midline + side * lungOffset;
    const floor = diaphragm - (side < 0 ? 0.02 : 0) + 0.04 * ((x - centreX) / lungHalfWidth) ** 2; // dome
    const centreY = (lungTop + floor) / 2;
    const halfHeight = (floor - lungTop) / 2;
    const taper = 0.45 + 0.55 * smoothstep(lungTop - 0.02, lungTop + 0.22, y);
    const dx = Math.abs(x - centreX) / (lungHalfWidth * taper);
    const dy = Math.abs(y - centreY) / halfHeight;
    const radius = (dx ** 2.5 + dy ** 2.5) ** (1 / 2.5);
    return smoothstep(1.05, 0.9, radius);
  };
  const heartTilt = random.uniformIn(0.3, 0.6); // long axis from upper image-left to the apex
  const heart = (x: number, y: number): number => {
    const along = (x - heartX) * Math.cos(heartTilt) + (y - heartY) * Math.sin(heartTilt);
    const across = (y - heartY) * Math.cos(heartTilt) - (x - heartX) * Math.sin(heartTilt);
    return smoothstep(1.08, 0.9, Math.hypot(along / heartRadiusX, across / heartRadiusY));
  };

  // Bones as stroke coverage: posterior ribs rise from the spine then arc down laterally; anterior
  // ribs run back down towards the sternum; clavicles cross the apices.
  const posteriorRibs = new Float32Array(size * size);
  const anteriorRibs = new Float32Array(size * size);
  const clavicles = new Float32Array(size * size);
  const ribWidth = random.uniformIn(0.022, 0.028);
  const ribSpacing = (diaphragm - lungTop) / 8.5;
  const ribSteps = Math.min(14, Math.max(5, Math.ceil(size / 10))); // strokes of about 2 px or more
  for (const side of [-1, 1]) {
    for (let rib = 0; rib < 9; rib++) {
      const ribY = lungTop + 0.02 + rib * ribSpacing + random.uniformIn(-0.005, 0.005);
      const span = bodyHalfWidth * 0.88;
      const at = (t: number): [number, number] => [
        midline + side * (0.03 + span * t),
        ribY - 0.1 * t + 0.3 * t * t,
      ];
      const anterior = (t: number): [number, number] => {
        const [endX, endY] = at(1);
        return [endX - side * (0.04 + 0.24 * t), endY - 0.02 + 0.16 * t];
      };
      for (let step = 0; step < ribSteps; step++) {
        const [x0, y0] = at(step / ribSteps);
        const [x1, y1] = at((step + 1) / ribSteps);
        drawStroke(posteriorRibs, size, { x0, y0, x1, y1, width: ribWidth, strength: 1 });
        const [ax0, ay0] = anterior(step / ribSteps);
        const [ax1, ay1] = anterior((step + 1) / ribSteps);
        drawStroke(anteriorRibs, size, {
          x0: ax0,
          y0: ay0,
          x1: ax1,
          y1: ay1,
          width: ribWidth * 1.2,
          strength: 1,
        });
      }
    }
    for (let step = 0; step < 10; step++) {
      const point = (t: number): [number, number] => [
        midline + side * (0.05 + 0.27 * t),
        lungTop + 0.03 - 0.05 * t + 0.02 * Math.sin(Math.PI * t),
      ];
      const [x0, y0] = point(step / 10);
      const [x1, y1] = point((step + 1) / 10);
      drawStroke(clavicles, size, { x0, y0, x1, y1, width: 0.03, strength: 1 });
    }
  }

  // Opacities: well inside a lung (so no silhouette against the chest wall or the heart hides them),
  // irregular through a noise-modulated radius.
  const opacities: Opacity[] = [];
  if (diseased) {
    const wanted = Math.max(1, random.integer(3) + (random.uniform() < 0.6 ? 1 : 0));
    for (let attempt = 0; attempt < 500 && opacities.length < wanted; attempt++) {
      const x = midline + (random.uniform() < 0.5 ? -1 : 1) * lungOffset + random.uniformIn(-0.1, 0.1);
      const y = random.uniformIn(lungTop + 0.1, diaphragm - 0.05);
      const radius = Math.max(2 * pixel, random.uniformIn(0.055, 0.11));
      const reach = radius * 0.8;
      const inLung = Math.min(
        lung(x, y),
        lung(x - reach, y),
        lung(x + reach, y),
        lung(x, y - reach),
        lung(x, y + reach),
      );
      const onHeart = heart(x, y) + heart(x - radius, y) + heart(x + radius, y) + heart(x, y + radius);
      if (inLung === 1 && onHeart === 0)
        opacities.push({ x, y, radius, intensity: random.uniformIn(0.26, 0.38) });
    }
    if (opacities.length === 0) {
      // Fallback (tiny images): the middle of the patient's right lung, which the heart does not reach.
      const y = (lungTop + diaphragm) / 2;
      opacities.push({ x: midline - lungOffset, y, radius: Math.max(2 * pixel, 0.06), intensity: 0.32 });
    }
  }
  const irregularity = fractalNoise(random, 8, 2);

  const tissue = sampleNoise(fractalNoise(random, 4, 3), size);
  const markings = sampleNoise(fractalNoise(random, 12, 2), size);
  const pixels = new Float32Array(size * size);
  const mask = new Uint8Array(size * size);
  for (let row = 0; row < size; row++) {
    const y = (row + 0.5) * pixel;
    const neckBlend = smoothstep(0.02, 0.3, y);
    const halfWidth = mix(0.09, bodyHalfWidth, neckBlend) * (1 - 0.05 * smoothstep(0.6, 1, y));
    for (let column = 0; column < size; column++) {
      const x = (column + 0.5) * pixel;
      const index = row * size + column;
      const fromMidline = Math.abs(x - midline);
      const body = smoothstep(halfWidth + 0.015, halfWidth - 0.015, fromMidline);
      const heartCover = heart(x, y) * smoothstep(diaphragm + 0.04, diaphragm, y);
      const lungCover = lung(x, y) * (1 - heartCover);
      const mediastinum =
        smoothstep(0.08, 0.05, fromMidline) *
        smoothstep(0.05, 0.12, y) *
        smoothstep(diaphragm, diaphragm - 0.12, y);
      const spine = smoothstep(0.045, 0.03, fromMidline) * body;
      const trachea = smoothstep(0.022, 0.012, fromMidline) * (1 - smoothstep(0.28, 0.36, y)) * body;
      const hilum = Math.exp(-(((fromMidline - 0.09) / 0.05) ** 2 + ((y - 0.42) / 0.08) ** 2));
      let opacity = 0;
      let extent = 0;
      for (const lesion of opacities) {
        const wobble = 0.7 + 0.6 * irregularity(x, y);
        const profile = smoothstep(
          1.2,
          0.4,
          (Math.hypot(x - lesion.x, y - lesion.y) * wobble) / lesion.radius,
        );
        opacity = Math.max(opacity, profile * lesion.intensity);
        extent = Math.max(extent, profile);
      }
      opacity *= lungCover;
      if (extent * lungCover >= 0.5) mask[index] = 1;
      const abdomen = 0.06 * smoothstep(diaphragm - 0.02, diaphragm + 0.06, y);
      let value = mix(0.05, 0.58 + abdomen + 0.08 * ((tissue[index] ?? 0) - 0.5), body);
      value -= lungCover * (0.4 - 0.08 * (markings[index] ?? 0) - 0.12 * hilum);
      value = mix(value, 0.72, Math.max(heartCover, mediastinum) * body) + 0.05 * spine;
      value -= 0.25 * trachea;
      const boneVisibility = body * (0.3 + 0.7 * lungCover) * (1 - smoothstep(0, 0.06, y - diaphragm));
      value += boneVisibility * (0.14 * (posteriorRibs[index] ?? 0) + 0.07 * (anteriorRibs[index] ?? 0));
      value += 0.16 * (clavicles[index] ?? 0) * body;
      value += opacity;
      value = contrast * (value - 0.5) + 0.5 + brightness + random.normal() * 0.015;
      pixels[index] = clamp01(value);
    }
  }
  return { pixels, mask };
}
