/**
 * Synthetic colour fundus photograph (a 45° posterior-pole view): dark background outside a circular
 * field of view; orange-red retina whose brightness falls off towards the rim; a bright optic disc with
 * a paler cup; a darker macula about 2.5 disc diameters temporal to it; and arterial and venous trees
 * leaving the disc (the temporal arcades curving around the macula), thinning as they branch. Label 1,
 * "referable retinopathy" (moderate non-proliferative diabetic retinopathy or worse, as in Gulshan et
 * al., JAMA 2016), adds the ETDRS red and bright lesions: microaneurysms and blot haemorrhages
 * (small dark-red dots and blots) and hard exudates (yellow spots clustered near the macula). The mask
 * is 1 on the lesions. Lesions are at least 0.8 px in radius so the disease stays visible at 28 px.
 *
 * Output: `pixels` row-major size×size×3 RGB in [0, 1]; `mask` size×size.
 */
import type { Random } from '../../core/random.ts';
import { clamp01, drawStroke, fractalNoise, mix, sampleNoise, smoothstep } from './noise.ts';

type Colour = readonly [number, number, number];

interface Vessel {
  x: number;
  y: number;
  angle: number;
  width: number;
  curvature: number;
  depth: number;
}

interface Lesion {
  x: number;
  y: number;
  radius: number;
  bright: boolean;
}

export function drawFundus(
  random: Random,
  size: number,
  diseased: boolean,
): { pixels: Float32Array; mask: Uint8Array } {
  const pixel = 1 / size;
  const centreX = 0.5 + random.uniformIn(-0.01, 0.01);
  const centreY = 0.5 + random.uniformIn(-0.01, 0.01);
  const fieldRadius = random.uniformIn(0.455, 0.485);
  const side = random.uniform() < 0.5 ? 1 : -1; // +1: disc on the right (right eye)
  const discRadius = random.uniformIn(0.05, 0.06);
  const discX = centreX + side * random.uniformIn(0.2, 0.24);
  const discY = centreY + random.uniformIn(-0.03, 0.03);
  const maculaX = discX - side * random.uniformIn(0.22, 0.26);
  const maculaY = discY + random.uniformIn(0, 0.03);
  const retina: Colour = [
    random.uniformIn(0.75, 0.9),
    random.uniformIn(0.3, 0.42),
    random.uniformIn(0.1, 0.18),
  ];
  const texture = sampleNoise(fractalNoise(random, 6, 3), size);

  // Vessel trees: an artery and a vein per quadrant, grown as curved random walks that branch.
  const arteries = new Float32Array(size * size);
  const veins = new Float32Array(size * size);
  const temporal = side > 0 ? Math.PI : 0;
  const mirror = (angle: number): number => (side > 0 ? angle : Math.PI - angle);
  const trunks = [
    { angle: mirror(Math.PI + 1.1), curvature: -side * 3 }, // superior temporal arcade
    { angle: mirror(Math.PI - 1.1), curvature: side * 3 }, // inferior temporal arcade
    { angle: temporal + Math.PI - side * 0.7, curvature: 0 }, // superior nasal
    { angle: temporal + Math.PI + side * 0.7, curvature: 0 }, // inferior nasal
  ];
  for (const trunk of trunks) {
    for (const vein of [true, false]) {
      const angle = trunk.angle + random.uniformIn(-0.25, 0.25);
      const vessel: Vessel = {
        x: discX + Math.cos(angle) * discRadius * 0.3,
        y: discY + Math.sin(angle) * discRadius * 0.3,
        angle,
        width: vein ? random.uniformIn(0.011, 0.013) : random.uniformIn(0.008, 0.01),
        curvature: trunk.curvature * random.uniformIn(0.8, 1.2) + random.uniformIn(-0.5, 0.5),
        depth: 0,
      };
      growVessel(random, vessel, vein ? veins : arteries, size, (x, y) => {
        return Math.hypot(x - centreX, y - centreY) < fieldRadius;
      });
    }
  }

  // Lesions: red dots and blots anywhere off the disc, yellow exudates clustered around the macula.
  const lesions: Lesion[] = [];
  if (diseased) {
    const minimumRadius = 0.8 * pixel;
    const place = (
      radiusLow: number,
      radiusHigh: number,
      bright: boolean,
      nearX: number,
      nearY: number,
      spread: number,
    ) => {
      for (let attempt = 0; attempt < 50; attempt++) {
        const x = nearX + random.uniformIn(-spread, spread);
        const y = nearY + random.uniformIn(-spread, spread);
        if (Math.hypot(x - centreX, y - centreY) > fieldRadius * 0.85) continue;
        if (Math.hypot(x - discX, y - discY) < discRadius * 2) continue;
        lesions.push({
          x,
          y,
          bright,
          radius: Math.max(minimumRadius, random.uniformIn(radiusLow, radiusHigh)),
        });
        return;
      }
    };
    const microaneurysms = 5 + random.integer(10);
    for (let i = 0; i < microaneurysms; i++) place(0.005, 0.009, false, centreX, centreY, fieldRadius * 0.8);
    const haemorrhages = 1 + random.integer(4);
    for (let i = 0; i < haemorrhages; i++) place(0.012, 0.025, false, centreX, centreY, fieldRadius * 0.7);
    const clusters = random.integer(3);
    for (let cluster = 0; cluster < clusters; cluster++) {
      const clusterX = maculaX + random.uniformIn(-0.12, 0.12);
      const clusterY = maculaY + random.uniformIn(-0.12, 0.12);
      const spots = 3 + random.integer(6);
      for (let i = 0; i < spots; i++) place(0.005, 0.011, true, clusterX, clusterY, 0.035);
    }
  }

  const pixels = new Float32Array(size * size * 3);
  const mask = new Uint8Array(size * size);
  const vein: Colour = [0.42, 0.07, 0.06];
  const artery: Colour = [0.62, 0.14, 0.08];
  const disc: Colour = [1, 0.86, 0.58];
  const red: Colour = [0.38, 0.04, 0.03];
  const yellow: Colour = [0.98, 0.88, 0.38];
  for (let row = 0; row < size; row++) {
    const y = (row + 0.5) * pixel;
    for (let column = 0; column < size; column++) {
      const x = (column + 0.5) * pixel;
      const index = row * size + column;
      const radial = Math.hypot(x - centreX, y - centreY) / fieldRadius;
      const inField = clamp01(fieldRadius * (1 - radial) * size + 0.5);
      const macula = Math.hypot(x - maculaX, y - maculaY);
      const discDistance = Math.hypot(x - discX, y - discY);
      let shade = (1 - 0.45 * radial * radial) * (0.92 + 0.16 * (texture[index] ?? 0));
      shade *= 1 - 0.35 * Math.exp(-(macula * macula) / (2 * 0.045 ** 2));
      shade += 0.25 * Math.exp(-(discDistance * discDistance) / (2 * (2 * discRadius) ** 2));
      const discCover = smoothstep(discRadius * 1.1, discRadius * 0.85, discDistance);
      const cup = 0.12 * smoothstep(discRadius * 0.5, discRadius * 0.2, discDistance);
      const arteryCover = arteries[index] ?? 0;
      const veinCover = veins[index] ?? 0;
      let lesionRed = 0;
      let lesionYellow = 0;
      for (const lesion of lesions) {
        const cover = clamp01((lesion.radius + pixel / 2 - Math.hypot(x - lesion.x, y - lesion.y)) * size);
        if (lesion.bright) lesionYellow = Math.max(lesionYellow, cover);
        else lesionRed = Math.max(lesionRed, cover);
      }
      if (Math.max(lesionRed, lesionYellow) >= 0.5) mask[index] = 1;
      for (let channel = 0; channel < 3; channel++) {
        let value = (retina[channel] ?? 0) * shade;
        value = mix(value, (disc[channel] ?? 0) + cup, discCover);
        value = mix(value, (artery[channel] ?? 0) * shade, arteryCover * 0.85);
        value = mix(value, (vein[channel] ?? 0) * shade, veinCover * 0.9);
        value = mix(value, (red[channel] ?? 0) * shade, lesionRed * 0.95);
        value = mix(value, yellow[channel] ?? 0, lesionYellow * 0.9);
        value = mix(0.015, value, inField) + random.normal() * 0.008;
        pixels[index * 3 + channel] = clamp01(value);
      }
    }
  }
  return { pixels, mask };
}

/** Grows one vessel as a curved random walk, spawning thinner children, until it leaves the field. */
function growVessel(
  random: Random,
  start: Vessel,
  coverage: Float32Array,
  size: number,
  inside: (x: number, y: number) => boolean,
): void {
  const pending: Vessel[] = [start];
  const step = 0.012;
  // Steps shorter than a pixel are merged into one stroke (the walk itself does not depend on size).
  const minimumStroke = 1.5 / size;
  for (let vessel = pending.pop(); vessel !== undefined; vessel = pending.pop()) {
    let strokeX = vessel.x;
    let strokeY = vessel.y;
    for (let steps = 0; steps < 80 && vessel.width > 0.002; steps++) {
      vessel.angle += vessel.curvature * step + random.normal() * 0.07;
      const x = vessel.x + Math.cos(vessel.angle) * step;
      const y = vessel.y + Math.sin(vessel.angle) * step;
      if (!inside(x, y)) break;
      vessel.x = x;
      vessel.y = y;
      if (Math.hypot(x - strokeX, y - strokeY) >= minimumStroke) {
        drawStroke(coverage, size, {
          x0: strokeX,
          y0: strokeY,
          x1: x,
          y1: y,
          width: vessel.width,
          strength: 1,
        });
        strokeX = x;
        strokeY = y;
      }
      vessel.width *= 0.992;
      if (vessel.depth < 3 && steps > 3 && random.uniform() < 0.06) {
        const turn = (random.uniform() < 0.5 ? -1 : 1) * random.uniformIn(0.5, 1);
        pending.push({
          x,
          y,
          angle: vessel.angle + turn,
          width: vessel.width * 0.65,
          curvature: random.uniformIn(-2, 2),
          depth: vessel.depth + 1,
        });
        vessel.width *= 0.88;
        vessel.angle -= turn * 0.25;
      }
    }
  }
}
