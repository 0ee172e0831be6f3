package dev.lake.examples;

import dev.lake.memory.NativeMemory;
import dev.lake.memory.Region;

import java.nio.ByteOrder;

/**
 * A short tour of what works today: one aligned, zeroed native region seen through Agrona and NIO, freed
 * exactly once, with the library's native byte count back at zero.
 */
public final class Tour
{
    private Tour()
    {
    }

    /**
     * @param args ignored.
     */
    public static void main(final String[] args)
    {
        final long baseline = NativeMemory.reservedBytes();
        try (Region region = Region.builder(64 * 1024).alignment(4096).zeroed(true).preTouch(true).build())
        {
            region.buffer().putLong(0, 0xCAFE_BABEL);
            final long viaNio = region.byteBuffer().order(ByteOrder.nativeOrder()).getLong(0);
            System.out.printf("region %s: address aligned to 4096: %b, same bytes via NIO: %b%n",
                region, (region.address() & 4095) == 0, viaNio == 0xCAFE_BABEL);
            System.out.printf("native bytes held by this tour: %,d%n", NativeMemory.reservedBytes() - baseline);
        }
        System.out.printf("after close: %,d native bytes, %d leaks%n",
            NativeMemory.reservedBytes() - baseline, NativeMemory.leaks());
    }
}
