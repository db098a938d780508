/**
 * A JPEG photo as phones write them: a GPS position and a description (`secret-place`) in its EXIF, turned by
 * `orientation` when given, for tests that prove a stored image keeps none of it. sharp is loaded on first
 * use, not with this package.
 */
export async function photoWithGps(width = 640, height = 480, orientation?: number): Promise<Buffer> {
  const { default: sharp } = await import('sharp');
  const photo = sharp({ create: { width, height, channels: 3, background: '#2a6' } }).jpeg();
  return (orientation === undefined ? photo : photo.withMetadata({ orientation }))
    .withExif({
      IFD0: { ImageDescription: 'secret-place' },
      IFD3: {
        GPSLatitudeRef: 'N',
        GPSLatitude: '48/1 51/1 2400/100',
        GPSLongitudeRef: 'E',
        GPSLongitude: '2/1 17/1 4000/100',
      },
    })
    .toBuffer();
}
