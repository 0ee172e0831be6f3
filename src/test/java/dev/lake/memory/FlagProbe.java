package dev.lake.memory;

/**
 * Child-JVM probe for {@link JvmFlagsTest}: touches every path of the ground layer once.
 */
public final class FlagProbe
{
    private FlagProbe()
    {
    }

    /**
     * @param args ignored.
     */
    public static void main(final String[] args)
    {
        try (Region region = Region.builder(8192).alignment(4096).zeroed(true).preTouch(true).build())
        {
            region.buffer().putLong(0, 42L);
            region.byteBuffer().order(java.nio.ByteOrder.nativeOrder()).putLong(8, region.buffer().getLong(0));
            if (region.buffer().getLong(8) != 42L)
            {
                throw new AssertionError("bytes not shared");
            }
        }
        if (NativeMemory.reservedBytes() != 0)
        {
            throw new AssertionError("accounting: " + NativeMemory.reservedBytes());
        }
        System.out.println("probe ok");
    }
}
