/**
 * Types for the JPEG 2000 decoder of `@cornerstonejs/codec-openjpeg` (OpenJPEG compiled to
 * WebAssembly with Emscripten and embind), which ships no declarations. Only the decoder entry point
 * (`/decodewasmjs`) and the members medrobust calls are declared. The factory returns a promise of
 * the initialised module; in Node it finds its `.wasm` beside the script.
 */
declare module '@cornerstonejs/codec-openjpeg/decodewasmjs' {
  export interface OpenJpegFrameInfo {
    width: number;
    height: number;
    bitsPerSample: number;
    componentCount: number;
    isSigned: boolean;
  }

  export interface J2KDecoder {
    /** A view of `length` bytes in the module's memory for the encoded bitstream. */
    getEncodedBuffer(length: number): Uint8Array;
    /** A view of the decoded samples in the module's memory; valid until `delete()`. */
    getDecodedBuffer(): Uint8Array;
    decode(): void;
    getFrameInfo(): OpenJpegFrameInfo;
    getColorSpace(): number;
    /** Frees the decoder's memory, including the buffers above. */
    delete(): void;
  }

  export interface OpenJpegModule {
    J2KDecoder: new () => J2KDecoder;
  }

  const createOpenJpegModule: (moduleOverrides?: Record<string, unknown>) => Promise<OpenJpegModule>;
  export default createOpenJpegModule;
}
