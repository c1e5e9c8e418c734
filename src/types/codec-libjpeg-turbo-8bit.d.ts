/**
 * Types for the 8-bit JPEG decoder of `@cornerstonejs/codec-libjpeg-turbo-8bit` (libjpeg-turbo
 * compiled to WebAssembly with Emscripten and embind), which ships no declarations. Only the decoder
 * entry point (`/decodewasmjs`) and the members medrobust calls are declared. The factory returns a
 * promise of the initialised module; in Node it finds its `.wasm` beside the script.
 */
declare module '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs' {
  export interface LibJpegTurboFrameInfo {
    width: number;
    height: number;
    bitsPerSample: number;
    componentCount: number;
    isSigned: boolean;
  }

  export interface JPEGDecoder {
    /** A view of `length` bytes in the module's memory for the encoded bitstream. */
    getEncodedBuffer(length: number): Uint8Array;
    /** A view of the decoded samples in the module's memory; valid until `delete()`. */
    getDecodedBuffer(): Uint8Array;
    decode(): void;
    getFrameInfo(): LibJpegTurboFrameInfo;
    /** Frees the decoder's memory, including the buffers above. */
    delete(): void;
  }

  export interface LibJpegTurboModule {
    JPEGDecoder: new () => JPEGDecoder;
  }

  const createLibJpegTurboModule: (moduleOverrides?: Record<string, unknown>) => Promise<LibJpegTurboModule>;
  export default createLibJpegTurboModule;
}
