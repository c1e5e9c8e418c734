/**
 * The transfer syntaxes `readDicom` knows: UID → name (PS3.6 Table A-1) and how its pixel data is
 * encoded (PS3.5 §10 and Annex A), or no encoding for syntaxes known by name but not decoded
 * (JPEG 2000 Part 2, JPIP, MPEG-2, H.264, HEVC, JPEG XL, MIME, XML).
 *
 * Input contract: a Transfer Syntax UID (0002,0010) as written, trailing NULs and spaces removed.
 * Output contract: `transferSyntaxes[uid]` or undefined for unknown UIDs; `unsupportedSyntaxError`
 * is the 'unsupported' MedrobustError that lists every decodable syntax and says how to convert.
 */
import { MedrobustError } from '../../core/errors.ts';

export type PixelEncoding =
  | 'native'
  | 'encapsulated-uncompressed'
  | 'rle'
  | 'jpeg-baseline'
  | 'jpeg-lossless'
  | 'jpeg-ls'
  | 'jpeg-2000';

interface TransferSyntax {
  readonly name: string;
  /** How pixel data is encoded; absent for syntaxes this reader knows by name but cannot decode. */
  readonly encoding?: PixelEncoding;
  readonly bigEndian?: boolean;
}

export const transferSyntaxes: Readonly<Record<string, TransferSyntax>> = Object.freeze({
  '1.2.840.10008.1.2': { name: 'Implicit VR Little Endian', encoding: 'native' },
  '1.2.840.10008.1.2.1': { name: 'Explicit VR Little Endian', encoding: 'native' },
  '1.2.840.10008.1.2.1.98': {
    name: 'Encapsulated Uncompressed Explicit VR Little Endian',
    encoding: 'encapsulated-uncompressed',
  },
  '1.2.840.10008.1.2.1.99': { name: 'Deflated Explicit VR Little Endian', encoding: 'native' },
  '1.2.840.10008.1.2.2': { name: 'Explicit VR Big Endian', encoding: 'native', bigEndian: true },
  '1.2.840.10008.1.2.5': { name: 'RLE Lossless', encoding: 'rle' },
  '1.2.840.10008.1.2.4.50': { name: 'JPEG Baseline (Process 1)', encoding: 'jpeg-baseline' },
  '1.2.840.10008.1.2.4.51': { name: 'JPEG Extended (Process 2 & 4)', encoding: 'jpeg-baseline' },
  '1.2.840.10008.1.2.4.57': {
    name: 'JPEG Lossless, Non-Hierarchical (Process 14)',
    encoding: 'jpeg-lossless',
  },
  '1.2.840.10008.1.2.4.70': {
    name: 'JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])',
    encoding: 'jpeg-lossless',
  },
  '1.2.840.10008.1.2.4.80': { name: 'JPEG-LS Lossless Image Compression', encoding: 'jpeg-ls' },
  '1.2.840.10008.1.2.4.81': {
    name: 'JPEG-LS Lossy (Near-Lossless) Image Compression',
    encoding: 'jpeg-ls',
  },
  '1.2.840.10008.1.2.4.90': { name: 'JPEG 2000 Image Compression (Lossless Only)', encoding: 'jpeg-2000' },
  '1.2.840.10008.1.2.4.91': { name: 'JPEG 2000 Image Compression', encoding: 'jpeg-2000' },
  // OpenJPEG ≥ 2.5 (the codec's build) decodes High-Throughput JPEG 2000 (ISO/IEC 15444-15) too.
  '1.2.840.10008.1.2.4.201': {
    name: 'High-Throughput JPEG 2000 Image Compression (Lossless Only)',
    encoding: 'jpeg-2000',
  },
  '1.2.840.10008.1.2.4.202': {
    name: 'High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)',
    encoding: 'jpeg-2000',
  },
  '1.2.840.10008.1.2.4.203': { name: 'High-Throughput JPEG 2000 Image Compression', encoding: 'jpeg-2000' },
  // Known by name, not decoded.
  '1.2.840.10008.1.2.4.92': { name: 'JPEG 2000 Part 2 Multi-component Image Compression (Lossless Only)' },
  '1.2.840.10008.1.2.4.93': { name: 'JPEG 2000 Part 2 Multi-component Image Compression' },
  '1.2.840.10008.1.2.4.94': { name: 'JPIP Referenced' },
  '1.2.840.10008.1.2.4.95': { name: 'JPIP Referenced Deflate' },
  '1.2.840.10008.1.2.4.100': { name: 'MPEG2 Main Profile / Main Level' },
  '1.2.840.10008.1.2.4.101': { name: 'MPEG2 Main Profile / High Level' },
  '1.2.840.10008.1.2.4.102': { name: 'MPEG-4 AVC/H.264 High Profile / Level 4.1' },
  '1.2.840.10008.1.2.4.103': { name: 'MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1' },
  '1.2.840.10008.1.2.4.104': { name: 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video' },
  '1.2.840.10008.1.2.4.105': { name: 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video' },
  '1.2.840.10008.1.2.4.106': { name: 'MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2' },
  '1.2.840.10008.1.2.4.107': { name: 'HEVC/H.265 Main Profile / Level 5.1' },
  '1.2.840.10008.1.2.4.108': { name: 'HEVC/H.265 Main 10 Profile / Level 5.1' },
  '1.2.840.10008.1.2.4.110': { name: 'JPEG XL Lossless' },
  '1.2.840.10008.1.2.4.111': { name: 'JPEG XL JPEG Recompression' },
  '1.2.840.10008.1.2.4.112': { name: 'JPEG XL' },
  '1.2.840.10008.1.2.6.1': { name: 'RFC 2557 MIME encapsulation' },
  '1.2.840.10008.1.2.6.2': { name: 'XML Encoding' },
});

/** The transfer syntaxes `readDicom` decodes, as "name (uid)" lines. */
export const supportedTransferSyntaxes: readonly string[] = Object.freeze(
  Object.entries(transferSyntaxes)
    .filter(([, syntax]) => syntax.encoding !== undefined)
    .map(([uid, syntax]) => `${syntax.name} (${uid})`),
);

export const conversionHint =
  'decompress it to Explicit VR Little Endian first, e.g. `gdcmconv --raw in.dcm out.dcm` (GDCM) ' +
  'or `dcmdjpeg in.dcm out.dcm` / `dcmdrle in.dcm out.dcm` (DCMTK)';

export function unsupportedSyntaxError(source: string, uid: string): MedrobustError {
  const name = transferSyntaxes[uid]?.name ?? 'unknown transfer syntax';
  return new MedrobustError('unsupported', `${source}: transfer syntax ${uid} (${name}) is not supported`, {
    hint: `supported: ${supportedTransferSyntaxes.join('; ')}. To read this file, ${conversionHint}.`,
  });
}
