/** The papers medrobust's detectors implement, cited in results and docs. */
import type { Citation } from '../core/citation.ts';

export const detectorCitations = Object.freeze({
  medical: {
    authors: 'Ma, Niu, Gu, Wang, Zhao, Bailey, Lu',
    title: 'Understanding adversarial attacks on deep learning based medical image analysis systems',
    venue: 'Pattern Recognition',
    year: 2021,
  },
  kernelDensity: {
    authors: 'Feinman, Curtin, Shintre, Gardner',
    title: 'Detecting adversarial samples from artifacts',
    venue: 'arXiv:1703.00410',
    year: 2017,
  },
  lid: {
    authors: 'Ma, Li, Wang, Erfani, Wijewickrema, Schoenebeck, Song, Houle, Bailey',
    title: 'Characterizing adversarial subspaces using local intrinsic dimensionality',
    venue: 'ICLR',
    year: 2018,
  },
  mahalanobis: {
    authors: 'Lee, Lee, Lee, Shin',
    title: 'A simple unified framework for detecting out-of-distribution samples and adversarial attacks',
    venue: 'NeurIPS',
    year: 2018,
  },
} satisfies Record<string, Citation>);
