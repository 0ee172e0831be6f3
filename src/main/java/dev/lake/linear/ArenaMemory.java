package dev.lake.linear;

import org.agrona.DirectBuffer;
import org.agrona.UnsafeApi;

/**
 * The raw stores and bulk copies the arena's vectors need that {@link dev.lake.memory.Memory} does not offer
 * (typed stores narrower than a long, copies between heap arrays and native addresses). Unchecked: every
 * caller has already bounds-checked both sides. Package-private on purpose: nothing outside the arena code
 * should reach memory without the arena's checks.
 */
final class ArenaMemory
{
    private static final long LONG_BASE = UnsafeApi.arrayBaseOffset(long[].class);
    private static final long INT_BASE = UnsafeApi.arrayBaseOffset(int[].class);
    private static final long DOUBLE_BASE = UnsafeApi.arrayBaseOffset(double[].class);

    private ArenaMemory()
    {
    }

    /** Stores an int at a native address, native byte order. */
    static void putInt(final long address, final int value)
    {
        UnsafeApi.putInt(address, value);
    }

    /** Stores a double at a native address, native byte order. */
    static void putDouble(final long address, final double value)
    {
        UnsafeApi.putDouble(address, value);
    }

    /** Copies {@code count} longs of {@code src} from {@code from} to {@code to}: one bulk copy. */
    static void copy(final long[] src, final int from, final int count, final long to)
    {
        UnsafeApi.copyMemory(src, LONG_BASE + ((long)from << 3), null, to, (long)count << 3);
    }

    /** Copies {@code count} ints of {@code src} from {@code from} to {@code to}: one bulk copy. */
    static void copy(final int[] src, final int from, final int count, final long to)
    {
        UnsafeApi.copyMemory(src, INT_BASE + ((long)from << 2), null, to, (long)count << 2);
    }

    /** Copies {@code count} doubles of {@code src} from {@code from} to {@code to}: one bulk copy. */
    static void copy(final double[] src, final int from, final int count, final long to)
    {
        UnsafeApi.copyMemory(src, DOUBLE_BASE + ((long)from << 3), null, to, (long)count << 3);
    }

    /** Copies {@code bytes} bytes of a buffer (heap or native) from {@code index} to {@code to}: one bulk copy. */
    static void copy(final DirectBuffer src, final int index, final long to, final int bytes)
    {
        UnsafeApi.copyMemory(src.byteArray(), src.addressOffset() + index, null, to, bytes);
    }

    /** Copies {@code dst.length} longs from {@code from} into {@code dst}: one bulk copy. */
    static void copyOut(final long from, final long[] dst)
    {
        UnsafeApi.copyMemory(null, from, dst, LONG_BASE, (long)dst.length << 3);
    }

    /** Copies {@code dst.length} ints from {@code from} into {@code dst}: one bulk copy. */
    static void copyOut(final long from, final int[] dst)
    {
        UnsafeApi.copyMemory(null, from, dst, INT_BASE, (long)dst.length << 2);
    }

    /** Copies {@code dst.length} doubles from {@code from} into {@code dst}: one bulk copy. */
    static void copyOut(final long from, final double[] dst)
    {
        UnsafeApi.copyMemory(null, from, dst, DOUBLE_BASE, (long)dst.length << 3);
    }
}
