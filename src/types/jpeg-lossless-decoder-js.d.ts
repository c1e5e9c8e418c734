/**
 * Types for `jpeg-lossless-decoder-js` (JPEG lossless, ITU-T T.81 process 14), whose package.json
 * names a declaration file (`release/lossless.d.ts`) that the published package does not contain.
 * Only the decoder members medrobust calls are declared.
 */
declare module 'jpeg-lossless-decoder-js' {
  export class Decoder {
    constructor(buffer?: ArrayBuffer | null, numBytes?: number);
    /**
     * Decodes the JPEG stream at `buffer[offset, offset + length)` into samples of `numBytes` bytes
     * (1: Uint8Array, 2: Uint16Array), pixel-interleaved for three 8-bit components.
     */
    decode(
      buffer?: ArrayBuffer,
      offset?: number,
      length?: number,
      numBytes?: number,
    ): Uint8Array | Uint16Array;
    numComp: number;
    precision: number | undefined;
    xDim: number;
    yDim: number;
  }
}
