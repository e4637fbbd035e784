"""Writes images of a dataset this project reads (MNIST, Fashion-MNIST, CIFAR-10) as PNG files in a
folder, optionally resized and in RGB: a real-image stand-in for a face folder (`data.name=
image_folder`), which these machines do not have.

  python3 scripts/make_image_folder.py --dataset fashion_mnist --split test --size 64 --rgb --out /tmp/fashion64

Images go to class subfolders (<out>/<label>/<index>.png), so the folder's labels are the dataset's.
"""

import argparse
import pathlib

from PIL import Image

from dvae_jax.data import load_split


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--dataset", default="fashion_mnist")
  parser.add_argument("--split", default="test", choices=("train", "test"))
  parser.add_argument("--data-dir", default=None)
  parser.add_argument("--size", type=int, default=0, help="resize to SIZE x SIZE (Lanczos); 0 keeps the size")
  parser.add_argument("--rgb", action="store_true", help="write 3-channel images")
  parser.add_argument("--limit", type=int, default=0, help="only the first N images (0: all)")
  parser.add_argument("--out", required=True)
  args = parser.parse_args()
  data = load_split(args.dataset, args.split, data_dir=args.data_dir, download=False)
  images, labels = data.images, data.labels
  if args.limit:
    images, labels = images[: args.limit], labels[: args.limit]
  out = pathlib.Path(args.out)
  for index, (image, label) in enumerate(zip(images, labels, strict=True)):
    picture = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
    if args.rgb:
      picture = picture.convert("RGB")
    if args.size:
      picture = picture.resize((args.size, args.size), Image.LANCZOS)
    folder = out / str(int(label))
    folder.mkdir(parents=True, exist_ok=True)
    picture.save(folder / f"{index:05d}.png")
  print(f"wrote {len(images)} images to {out}")


if __name__ == "__main__":
  main()
