/** The papers medrobust's attacks implement, cited in results and docs. */
import type { Citation } from './attack.ts';

export const citations = Object.freeze({
  fgsm: {
    authors: 'Goodfellow, Shlens, Szegedy',
    title: 'Explaining and harnessing adversarial examples',
    venue: 'ICLR',
    year: 2015,
  },
  bim: {
    authors: 'Kurakin, Goodfellow, Bengio',
    title: 'Adversarial examples in the physical world',
    venue: 'ICLR workshop',
    year: 2017,
  },
  pgd: {
    authors: 'Madry, Makelov, Schmidt, Tsipras, Vladu',
    title: 'Towards deep learning models resistant to adversarial attacks',
    venue: 'ICLR',
    year: 2018,
  },
  cw: {
    authors: 'Carlini, Wagner',
    title: 'Towards evaluating the robustness of neural networks',
    venue: 'IEEE S&P',
    year: 2017,
  },
  deepfool: {
    authors: 'Moosavi-Dezfooli, Fawzi, Frossard',
    title: 'DeepFool: a simple and accurate method to fool deep neural networks',
    venue: 'CVPR',
    year: 2016,
  },
  apgd: {
    authors: 'Croce, Hein',
    title: 'Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free attacks',
    venue: 'ICML',
    year: 2020,
  },
  square: {
    authors: 'Andriushchenko, Croce, Flammarion, Hein',
    title: 'Square attack: a query-efficient black-box adversarial attack via random search',
    venue: 'ECCV',
    year: 2020,
  },
  ma2021: {
    authors: 'Ma, Niu, Gu, Wang, Zhao, Bailey, Lu',
    title: 'Understanding adversarial attacks on deep learning based medical image analysis systems',
    venue: 'Pattern Recognition',
    year: 2021,
  },
} satisfies Record<string, Citation>);
