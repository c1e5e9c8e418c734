/**
 * DICOM images (DICOM 2024 editions, PS3.3, PS3.5, PS3.10): `readDicom` reads the bytes of one
 * Part 10 file into pixel values in modality units (read.ts), `dicomToUnitImage` turns frame 0 of
 * those into a float image in [0, 1] for a model (windowing.ts), `supportedTransferSyntaxes` lists
 * what `readDicom` decodes (transfer-syntaxes.ts). Importers use this path only.
 */
export { type DicomImage, readDicom } from './read.ts';
export { supportedTransferSyntaxes } from './transfer-syntaxes.ts';
export {
  type DicomUnitImageOptions,
  type DicomWindow,
  dicomToUnitImage,
  type UnitImage,
} from './windowing.ts';
