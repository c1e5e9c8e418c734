/**
 * Types for the JPEG-LS decoder of `@cornerstonejs/codec-charls` (CharLS compiled to WebAssembly
 * with Emscripten and embind), which ships no declarations. Only the decoder entry point
 * (`/decodewasmjs`) and the members medrobust calls are declared. The factory returns a promise of
 * the initialised module; in Node it finds its `.wasm` beside the script.
 */
declare module '@cornerstonejs/codec-charls/decodewasmjs' {
  export interface CharLSFrameInfo {
    width: number;
    height: number;
    bitsPerSample: number;
    componentCount: number;
  }

  export interface JpegLSDecoder {
    /** A view of `length` bytes in the module's memory for the encoded bitstream. */
    getEncodedBuffer(length: number): Uint8Array;
    /** A view of the decoded samples in the module's memory; valid until `delete()`. */
    getDecodedBuffer(): Uint8Array;
    decode(): void;
    getFrameInfo(): CharLSFrameInfo;
    /** 0: none (planar output), 1: line, 2: sample (both pixel-interleaved output). */
    getInterleaveMode(): number;
    getNearLossless(): number;
    /** Frees the decoder's memory, including the buffers above. */
    delete(): void;
  }

  export interface CharLSModule {
    JpegLSDecoder: new () => JpegLSDecoder;
  }

  const createCharLSModule: (moduleOverrides?: Record<string, unknown>) => Promise<CharLSModule>;
  export default createCharLSModule;
}

/** The full build (encoder and decoder); medrobust's tests use its encoder to write JPEG-LS fixtures. */
declare module '@cornerstonejs/codec-charls/wasmjs' {
  import type { CharLSFrameInfo, JpegLSDecoder } from '@cornerstonejs/codec-charls/decodewasmjs';

  export interface JpegLSEncoder {
    /** A view in the module's memory for the samples to encode, sized by `frameInfo`. */
    getDecodedBuffer(frameInfo: CharLSFrameInfo): Uint8Array;
    getEncodedBuffer(): Uint8Array;
    setNearLossless(nearLossless: number): void;
    /** 0: none (samples given by plane), 1: line, 2: sample (samples given by pixel). */
    setInterleaveMode(mode: number): void;
    encode(): void;
    delete(): void;
  }

  export interface CharLSFullModule {
    JpegLSDecoder: new () => JpegLSDecoder;
    JpegLSEncoder: new () => JpegLSEncoder;
  }

  const createCharLSFullModule: (moduleOverrides?: Record<string, unknown>) => Promise<CharLSFullModule>;
  export default createCharLSFullModule;
}
