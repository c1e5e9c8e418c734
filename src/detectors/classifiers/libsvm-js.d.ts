/**
 * Types for the parts of libsvm-js 0.2.1 (mljs; libsvm compiled by emscripten) that svm.ts uses; the
 * package ships no types. Its `asm.js` entry (CommonJS) exports the SVM class synchronously (libsvm
 * compiled to asm.js); the main entry, `wasm.js`, exports a promise of the same class. Option names
 * and semantics are those of the package's `src/loadSVM.js`; each option becomes an `svm-train` flag.
 */
declare module 'libsvm-js/asm.js' {
  interface LibsvmOptions {
    /** libsvm -s: '0' is C-SVC. */
    type?: string;
    /** libsvm -t: '2' is the RBF kernel. */
    kernel?: string;
    /** libsvm -g. */
    gamma?: number;
    /** libsvm -c. */
    cost?: number;
    /** libsvm -m, in MB. */
    cacheSize?: number;
    /** libsvm -e: the stopping tolerance. */
    tolerance?: number;
    /** libsvm -h. */
    shrinking?: boolean;
    /** libsvm -q. */
    quiet?: boolean;
  }

  interface LibsvmModel {
    train(samples: ArrayLike<number>[], labels: readonly number[]): void;
    predict(samples: ArrayLike<number>[]): number[];
    getLabels(): number[];
    /** Indices (0-based) of the support vectors in the training samples, in model order. */
    getSVIndices(): number[];
    /** libsvm's `svm_save_model` text (coefficients as %.16g, rho as %g, support vectors as %.8g). */
    serializeModel(): string;
    /** Frees the model's memory inside the wasm heap (not garbage collected). */
    free(): void;
  }

  interface LibsvmConstructor {
    new (options: LibsvmOptions): LibsvmModel;
    readonly SVM_TYPES: { readonly C_SVC: string };
    readonly KERNEL_TYPES: { readonly RBF: string };
  }

  const Libsvm: LibsvmConstructor;
  export = Libsvm;
}
