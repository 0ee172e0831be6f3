package dev.lake.memory;

import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.ExpandableDirectByteBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The one door to raw memory: every native allocate, free, fill, copy, raw store and fence in Lake goes
 * through this class, so the backend can change in one place.
 *
 * <p>The backend is Agrona's {@link UnsafeApi}, which calls {@code jdk.internal.misc.Unsafe} directly. That
 * is the same mechanism Agrona's {@code UnsafeBuffer} uses, so Lake needs exactly one JVM flag,
 * {@value #REQUIRED_FLAG}, and on JDK 24+ prints no {@code sun.misc.Unsafe} deprecation warning.
 *
 * <p>This is the unchecked tier: nothing here validates addresses. Allocators call it only after their own
 * checks. Users should reach memory through {@link Region} and the allocators built on it.
 */
public final class Memory
{
    /** The JVM flag Lake (and Agrona 2.x) needs. */
    public static final String REQUIRED_FLAG = "--add-exports java.base/jdk.internal.misc=ALL-UNNAMED";

    /** Cache line size assumed for padding and alignment helpers. */
    public static final int CACHE_LINE = 64;

    private static final String UNAVAILABLE;
    private static final int PAGE_SIZE;

    static
    {
        String failure = null;
        int pageSize = 4096;
        try
        {
            pageSize = UnsafeApi.pageSize();
        }
        catch (final IllegalAccessError | NoClassDefFoundError | UnsupportedOperationException ex)
        {
            failure = "Lake cannot reach native memory: start the JVM with " + REQUIRED_FLAG +
                " (Agrona 2.x and Lake use jdk.internal.misc.Unsafe). Cause: " + ex;
        }
        UNAVAILABLE = failure;
        PAGE_SIZE = pageSize;
    }

    private Memory()
    {
    }

    /**
     * Fails fast, naming the missing JVM flag, when native memory cannot be reached.
     *
     * @throws IllegalStateException if the JVM was started without {@value #REQUIRED_FLAG}.
     */
    public static void ensureAvailable()
    {
        if (UNAVAILABLE != null)
        {
            throw new IllegalStateException(UNAVAILABLE);
        }
    }

    /**
     * @return whether native memory can be reached (the JVM flag is present).
     */
    public static boolean isAvailable()
    {
        return UNAVAILABLE == null;
    }

    /**
     * @return the operating system page size in bytes.
     */
    public static int pageSize()
    {
        return PAGE_SIZE;
    }

    static long allocate(final long bytes)
    {
        return UnsafeApi.allocateMemory(bytes);
    }

    static void free(final long address)
    {
        UnsafeApi.freeMemory(address);
    }

    /**
     * Fills {@code bytes} bytes at {@code address} with {@code value}. Unchecked.
     *
     * @param address first byte.
     * @param bytes   number of bytes.
     * @param value   the byte to write.
     */
    public static void fill(final long address, final long bytes, final byte value)
    {
        UnsafeApi.setMemory(address, bytes, value);
    }

    /**
     * Copies {@code bytes} bytes between native addresses (regions may overlap). Unchecked.
     *
     * @param from  source address.
     * @param to    destination address.
     * @param bytes number of bytes.
     */
    public static void copy(final long from, final long to, final long bytes)
    {
        UnsafeApi.copyMemory(from, to, bytes);
    }

    /**
     * Stores one byte at a native address. Unchecked.
     *
     * @param address the address.
     * @param value   the byte.
     */
    public static void putByte(final long address, final byte value)
    {
        UnsafeApi.putByte(address, value);
    }

    /**
     * Stores one long at a native address in native byte order. Unchecked.
     *
     * @param address the address.
     * @param value   the value.
     */
    public static void putLong(final long address, final long value)
    {
        UnsafeApi.putLong(address, value);
    }

    /**
     * Loads one long from a native address in native byte order. Unchecked.
     *
     * @param address the address.
     * @return the value.
     */
    public static long getLong(final long address)
    {
        return UnsafeApi.getLong(address);
    }

    /**
     * Loads one byte from a native address. Unchecked.
     *
     * @param address the address.
     * @return the byte.
     */
    public static byte getByte(final long address)
    {
        return UnsafeApi.getByte(address);
    }

    /**
     * Stores one int at a native address in native byte order. Unchecked.
     *
     * @param address the address.
     * @param value   the value.
     */
    public static void putInt(final long address, final int value)
    {
        UnsafeApi.putInt(address, value);
    }

    /**
     * Loads one int from a native address in native byte order. Unchecked.
     *
     * @param address the address.
     * @return the value.
     */
    public static int getInt(final long address)
    {
        return UnsafeApi.getInt(address);
    }

    /**
     * Loads one int from a native address with volatile semantics. Unchecked.
     *
     * @param address the address, 4-byte aligned.
     * @return the value.
     */
    public static int getIntVolatile(final long address)
    {
        return UnsafeApi.getIntVolatile(null, address);
    }

    /**
     * Atomically sets the int at a native address to {@code value} if it holds {@code expected}. Unchecked.
     *
     * @param address  the address, 4-byte aligned.
     * @param expected the value it must hold.
     * @param value    the new value.
     * @return whether it was set.
     */
    public static boolean compareAndSetInt(final long address, final int expected, final int value)
    {
        return UnsafeApi.compareAndSetInt(null, address, expected, value);
    }

    /**
     * Stores one double at a native address in native byte order. Unchecked.
     *
     * @param address the address.
     * @param value   the value.
     */
    public static void putDouble(final long address, final double value)
    {
        UnsafeApi.putDouble(address, value);
    }

    /**
     * Loads one double from a native address in native byte order. Unchecked.
     *
     * @param address the address.
     * @return the value.
     */
    public static double getDouble(final long address)
    {
        return UnsafeApi.getDouble(address);
    }

    /**
     * Stores one short at a native address in native byte order. Unchecked.
     *
     * @param address the address.
     * @param value   the value.
     */
    public static void putShort(final long address, final short value)
    {
        UnsafeApi.putShort(address, value);
    }

    /**
     * Loads one short from a native address in native byte order. Unchecked.
     *
     * @param address the address.
     * @return the value.
     */
    public static short getShort(final long address)
    {
        return UnsafeApi.getShort(address);
    }

    /**
     * Stores one float at a native address in native byte order. Unchecked.
     *
     * @param address the address.
     * @param value   the value.
     */
    public static void putFloat(final long address, final float value)
    {
        UnsafeApi.putFloat(address, value);
    }

    /**
     * Loads one float from a native address in native byte order. Unchecked.
     *
     * @param address the address.
     * @return the value.
     */
    public static float getFloat(final long address)
    {
        return UnsafeApi.getFloat(address);
    }

    /**
     * Copies {@code count} elements of a heap array to a native address. Unchecked: the caller checks the range.
     *
     * @param src   the array.
     * @param from  first element to copy.
     * @param count elements to copy.
     * @param to    destination address.
     */
    public static void copy(final long[] src, final int from, final int count, final long to)
    {
        UnsafeApi.copyMemory(src, ArrayBase.LONGS + ((long)from << 3), null, to, (long)count << 3);
    }

    /**
     * Copies {@code count} elements of a heap array to a native address. Unchecked: the caller checks the range.
     *
     * @param src   the array.
     * @param from  first element to copy.
     * @param count elements to copy.
     * @param to    destination address.
     */
    public static void copy(final int[] src, final int from, final int count, final long to)
    {
        UnsafeApi.copyMemory(src, ArrayBase.INTS + ((long)from << 2), null, to, (long)count << 2);
    }

    /**
     * Copies {@code count} elements of a heap array to a native address. Unchecked: the caller checks the range.
     *
     * @param src   the array.
     * @param from  first element to copy.
     * @param count elements to copy.
     * @param to    destination address.
     */
    public static void copy(final double[] src, final int from, final int count, final long to)
    {
        UnsafeApi.copyMemory(src, ArrayBase.DOUBLES + ((long)from << 3), null, to, (long)count << 3);
    }

    /**
     * Copies bytes of an Agrona buffer (heap or direct) to a native address. Unchecked. It asks {@code src} for its
     * array and address here, after the caller's checks: only for a source Lake trusts. For any other, ask first
     * and use {@link #copy(Object, long, long, long)} once the destination is checked for the last time.
     *
     * @param src   the buffer.
     * @param index first byte in the buffer.
     * @param to    destination address.
     * @param bytes bytes to copy.
     */
    public static void copy(final DirectBuffer src, final int index, final long to, final int bytes)
    {
        UnsafeApi.copyMemory(src.byteArray(), src.addressOffset() + index, null, to, bytes);
    }

    /**
     * Copies bytes addressed the way Agrona addresses a buffer ({@code byteArray()}, {@code null} off-heap, and
     * {@code addressOffset()}) to a native address. Unchecked: the caller checks both ranges, and asks the source
     * for its array and address before it checks its own destination for the last time.
     *
     * @param srcBase   the source's heap array, or {@code null} for native memory.
     * @param srcOffset the source's address offset of the first byte.
     * @param to        destination address.
     * @param bytes     bytes to copy.
     */
    public static void copy(final Object srcBase, final long srcOffset, final long to, final long bytes)
    {
        UnsafeApi.copyMemory(srcBase, srcOffset, null, to, bytes);
    }

    /**
     * Copies bytes addressed the way Agrona addresses a buffer into one of Lake's own buffers, heap or native.
     * Unchecked, like {@link #copy(Object, long, long, long)}: the caller checks both ranges, and asks the source
     * for its array and address before it checks its own destination for the last time (Agrona's
     * {@code putBytes(int, DirectBuffer, int, int)} asks the source after checking the destination, so a source
     * that released or closed the destination in those calls had the copy land in memory it no longer owned).
     *
     * @param srcBase   the source's heap array, or {@code null} for native memory.
     * @param srcOffset the source's address offset of the first byte.
     * @param dst       the destination: a Lake buffer ({@link UnsafeBuffer} or a region's), never foreign code.
     * @param index     first byte written in {@code dst}.
     * @param bytes     bytes to copy.
     */
    public static void copy(final Object srcBase, final long srcOffset, final UnsafeBuffer dst, final int index,
        final int bytes)
    {
        UnsafeApi.copyMemory(srcBase, srcOffset, dst.byteArray(), dst.addressOffset() + index, bytes);
    }

    /**
     * Compares two buffers in Agrona's order (native-order signed longs, then signed bytes, then capacities, as
     * {@code UnsafeBuffer.compareTo} does), reading both through their own accessors. For Lake's checked views,
     * whose accessors check liveness and bounds on every read: code of the other buffer that releases or closes
     * the view makes the comparison throw instead of reading freed memory. O(min capacity), no allocation.
     *
     * @param a a buffer, whose {@code capacity()} is asked first.
     * @param b the buffer it is compared with.
     * @return negative, zero or positive as {@code a} orders before, with or after {@code b}.
     */
    public static int compareInAgronaOrder(final DirectBuffer a, final DirectBuffer b)
    {
        final int aCapacity = a.capacity();
        final int bCapacity = b.capacity();
        final int common = Math.min(aCapacity, bCapacity);
        final int longs = common & -8;
        int i = 0;
        for (; i < longs; i += 8)
        {
            final int cmp = Long.compare(a.getLong(i), b.getLong(i));
            if (cmp != 0)
            {
                return cmp;
            }
        }
        for (; i < common; i++)
        {
            final int cmp = Byte.compare(a.getByte(i), b.getByte(i));
            if (cmp != 0)
            {
                return cmp;
            }
        }
        return Integer.compare(aCapacity, bCapacity);
    }

    /**
     * Copies {@code length} bytes of {@code src} into {@code dst} without handing {@code src} to code Lake does not
     * know. Agrona's own buffers ({@link org.agrona.concurrent.UnsafeBuffer}, {@link org.agrona.ExpandableArrayBuffer},
     * {@link org.agrona.ExpandableDirectByteBuffer}), Lake's region buffers and the pool's view
     * ({@code Buffer.mutableBuffer()}) copy straight from {@code src}, with no allocation: the pool's view runs no
     * code Lake does not know for a range inside its capacity (past it, it spills, and a spill serves waiting
     * requests whose callbacks may free {@code src}), so the caller's check against {@code dst.capacity()} is what
     * keeps it safe. Any other {@link MutableDirectBuffer} implementation (a subclass, an adapter) gets the bytes
     * through a heap copy, one {@code byte[]} of {@code length}: its {@code putBytes} is foreign code, and the
     * source here is a whole chunk or region that holds other owners' memory, which it must neither keep nor reach.
     * Checks only what {@code dst.putBytes} checks: the caller checks both ranges.
     *
     * @param src      the source: an allocator's internal buffer.
     * @param srcIndex first byte in {@code src}.
     * @param dst      the caller's destination.
     * @param dstIndex first byte written in {@code dst}.
     * @param length   bytes to copy.
     */
    public static void copyOut(
        final DirectBuffer src, final int srcIndex, final MutableDirectBuffer dst, final int dstIndex, final int length)
    {
        final Class<?> type = dst.getClass();
        if (type == UnsafeBuffer.class || type == Region.RegionBuffer.class || type == ExpandableArrayBuffer.class ||
            type == ExpandableDirectByteBuffer.class || type == PoolView.TYPE)
        {
            dst.putBytes(dstIndex, src, srcIndex, length);
            return;
        }
        final byte[] copy = new byte[length];
        src.getBytes(srcIndex, copy);
        dst.putBytes(dstIndex, copy);
    }

    /**
     * Copies {@code count} longs from a native address into a heap array. Unchecked: the caller checks the range.
     *
     * @param from   source address.
     * @param dst    the array.
     * @param offset first element written.
     * @param count  elements to copy.
     */
    public static void copy(final long from, final long[] dst, final int offset, final int count)
    {
        UnsafeApi.copyMemory(null, from, dst, ArrayBase.LONGS + ((long)offset << 3), (long)count << 3);
    }

    /**
     * Copies {@code count} ints from a native address into a heap array. Unchecked: the caller checks the range.
     *
     * @param from   source address.
     * @param dst    the array.
     * @param offset first element written.
     * @param count  elements to copy.
     */
    public static void copy(final long from, final int[] dst, final int offset, final int count)
    {
        UnsafeApi.copyMemory(null, from, dst, ArrayBase.INTS + ((long)offset << 2), (long)count << 2);
    }

    /**
     * Copies {@code count} doubles from a native address into a heap array. Unchecked: the caller checks the range.
     *
     * @param from   source address.
     * @param dst    the array.
     * @param offset first element written.
     * @param count  elements to copy.
     */
    public static void copy(final long from, final double[] dst, final int offset, final int count)
    {
        UnsafeApi.copyMemory(null, from, dst, ArrayBase.DOUBLES + ((long)offset << 3), (long)count << 3);
    }

    /** Orders stores before the fence before stores after it. */
    public static void storeFence()
    {
        UnsafeApi.storeFence();
    }

    /** Orders loads before the fence before loads and stores after it. */
    public static void loadFence()
    {
        UnsafeApi.loadFence();
    }

    /** Orders all memory accesses across the fence. */
    public static void fullFence()
    {
        UnsafeApi.fullFence();
    }

    static long fieldOffset(final Class<?> type, final String name)
    {
        return UnsafeApi.objectFieldOffset(type, name);
    }

    static void putLongField(final Object target, final long offset, final long value)
    {
        UnsafeApi.putLong(target, offset, value);
    }

    static void putIntField(final Object target, final long offset, final int value)
    {
        UnsafeApi.putInt(target, offset, value);
    }

    static void putReferenceField(final Object target, final long offset, final Object value)
    {
        UnsafeApi.putReference(target, offset, value);
    }

    /** The pool's {@code MutableDirectBuffer} view, a Lake type of another package, found once by name. */
    private static final class PoolView
    {
        static final Class<?> TYPE;

        static
        {
            Class<?> type = null;
            try
            {
                type = Class.forName("dev.lake.pool.WriteView", false, Memory.class.getClassLoader());
            }
            catch (final ClassNotFoundException | LinkageError ex)
            {
                // not there: the pool's view then takes the heap copy, as any other type does
            }
            TYPE = type;
        }

        private PoolView()
        {
        }
    }

    /** Array base offsets, resolved on first use: only once native memory is known to be reachable. */
    private static final class ArrayBase
    {
        static final long LONGS = UnsafeApi.arrayBaseOffset(long[].class);
        static final long INTS = UnsafeApi.arrayBaseOffset(int[].class);
        static final long DOUBLES = UnsafeApi.arrayBaseOffset(double[].class);
    }
}
