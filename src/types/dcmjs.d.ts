/**
 * Types for `dcmjs` (a development dependency, used to write DICOM test fixtures), which ships no
 * declarations. Only what the tests call is declared: a naturalised dataset (keyword → value,
 * `_meta` holding the File Meta Information in DICOM JSON form, `_vrMap` overriding value
 * representations) → `DicomDict` → Part 10 bytes.
 */
declare module 'dcmjs' {
  export interface NaturalizedDataset {
    _meta?: Record<string, { vr?: string; Value: unknown[] }>;
    _vrMap?: Record<string, string>;
    [keyword: string]: unknown;
  }

  export interface DicomDict {
    /** The whole Part 10 file: preamble, "DICM", meta information and data set. */
    write(options?: { allowInvalidVRLength?: boolean }): ArrayBuffer;
  }

  export const data: {
    datasetToDict(dataset: NaturalizedDataset): DicomDict;
  };

  const dcmjs: { data: typeof data };
  export default dcmjs;
}
