// ToTensor + Normalize(ImageNet mean, std) in JavaScript, for the pipeline benchmark's
// like-for-like output (torchvision's DataLoader returns float batches; this package's trainer
// hands uint8 to the native step, which normalises there).
export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];

/** uint8 HWC images -> float32 CHW, (x / 255 - mean) / std, as ToTensor + Normalize. */
export function normaliseInto(images: Uint8Array, n: number, h: number, w: number, out: Float32Array, outOffset = 0): void {
  const hw = h * w;
  for (let k = 0; k < n; k++) {
    const src = k * hw * 3;
    for (let c = 0; c < 3; c++) {
      const scale = 1 / (255 * IMAGENET_STD[c]);
      const shift = IMAGENET_MEAN[c] / IMAGENET_STD[c];
      const o = outOffset + (k * 3 + c) * hw;
      for (let p = 0, s = src + c; p < hw; p++, s += 3) out[o + p] = images[s] * scale - shift;
    }
  }
}
