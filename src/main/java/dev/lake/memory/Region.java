package dev.lake.memory;

import org.agrona.DirectBuffer;
import org.agrona.LangUtil;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.ReadOnlyBufferException;
import java.util.Objects;

/**
 * One block of native memory owned by Lake: aligned, optionally zeroed and pre-touched, seen through one
 * Agrona {@link UnsafeBuffer} and, for NIO, one {@link ByteBuffer} over the same bytes.
 *
 * <p>Lifecycle: {@link #close()} frees the memory exactly once (a second close does nothing). After close
 * the views this region handed out have capacity 0, so any access through them throws
 * {@link IndexOutOfBoundsException} instead of touching freed memory, and {@link #checkOpen()} throws
 * {@link IllegalStateException}. A region that becomes unreachable without {@code close()} is freed by the
 * safety net and counted in {@link NativeMemory#leaks()}; the views keep their region reachable, so the
 * safety net never frees memory a live view can still reach.
 *
 * <p>Cost: allocation is one {@code malloc}-like call (plus a fill when zeroed, a write per page when
 * pre-touched) and one {@link Cleaner} registration; it is meant for setup, not for hot paths.
 *
 * <p>Not thread-safe for concurrent close and use; {@code close()} itself may race with another
 * {@code close()} and the memory is still freed once.
 */
public final class Region implements AutoCloseable
{
    /** Largest region: the capacity limit of an Agrona buffer, 2 GiB - 1 byte. */
    public static final long MAX_SIZE = Integer.MAX_VALUE;

    /** Default base alignment: one cache line. */
    public static final int DEFAULT_ALIGNMENT = Memory.CACHE_LINE;

    /**
     * Offset of {@link #closed}, for close()'s compare-and-set through {@code Unsafe}: a {@code VarHandle} call site is
     * linked on its first call, which allocates on the heap, so the first close in a JVM on a full heap threw
     * {@link OutOfMemoryError} before freeing anything (and the lake or arena closing it was already marked closed).
     */
    private static final long CLOSED_OFFSET =
        Memory.isAvailable() ? Memory.fieldOffset(Region.class, "closed") : -1; // no region without the JVM flag
    private static final VarHandle BYTE_BUFFER;
    /**
     * Resolved here, not by the first {@code close()}: resolving a JDK class from a class of the application's loader
     * runs that loader's Java code ({@code loadClass}), which a full heap refuses, so the first close in a JVM threw at
     * its {@code cleanable.clean()} with the region marked closed and its memory held. Resolving the class entry
     * leaves the close nothing to load.
     */
    @SuppressWarnings("unused") // resolution only
    private static final Class<?> CLEANABLE = Cleaner.Cleanable.class;

    static
    {
        try
        {
            BYTE_BUFFER = MethodHandles.lookup().findVarHandle(Region.class, "byteBuffer", ByteBuffer.class);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    private final long address;
    private final int size;
    private final int alignment;
    private final RegionBuffer buffer;
    private final Deallocator deallocator;
    private final Cleaner.Cleanable cleanable;
    private volatile ByteBuffer byteBuffer;
    @SuppressWarnings("unused") // set through CLOSED_OFFSET
    private volatile boolean closed;

    private Region(final Builder builder)
    {
        Memory.ensureAvailable();
        this.size = (int)builder.size;
        this.alignment = builder.alignment;

        long rawBytes = size;
        long raw = Memory.allocate(rawBytes);
        if ((raw & (alignment - 1)) != 0)
        {
            Memory.free(raw);
            rawBytes = (long)size + alignment - 1;
            raw = Memory.allocate(rawBytes);
        }
        NativeMemory.reserved(rawBytes);
        this.address = (raw + alignment - 1) & -alignment;
        try
        {
            if (builder.zeroed)
            {
                Memory.fill(address, size, (byte)0);
            }
            if (builder.preTouch)
            {
                preTouch(address, size);
            }

            final String description = "Region[" + size + " B, align " + alignment + "]";
            this.deallocator = new Deallocator(raw, rawBytes, description, NativeMemory.allocationSite(description));
            this.buffer = new RegionBuffer(address, size, this);
            this.cleanable = NativeMemory.cleaner().register(this, deallocator); // last: nothing can fail after it
        }
        catch (final Throwable ex)
        {
            // the Java objects above come from the heap: an OutOfMemoryError (or any error) before the cleaner holds
            // the memory must not leave it held by nobody and counted for good
            Memory.free(raw);
            NativeMemory.released(rawBytes);
            throw ex;
        }
    }

    /**
     * Allocates an uninitialised region aligned to {@link #DEFAULT_ALIGNMENT}.
     *
     * @param size bytes, 1 to {@link #MAX_SIZE}.
     * @return the open region.
     * @throws IllegalArgumentException if {@code size} is out of range.
     * @throws IllegalStateException    if the JVM lacks {@link Memory#REQUIRED_FLAG}.
     * @throws OutOfMemoryError         if the operating system refuses the memory, or the Java heap has no room for the
     *                                  region's few objects; nothing is then held or counted.
     */
    public static Region allocate(final long size)
    {
        return builder(size).build();
    }

    /**
     * Starts a region builder.
     *
     * @param size bytes, 1 to {@link #MAX_SIZE}.
     * @return a builder with the default alignment, not zeroed, not pre-touched.
     * @throws IllegalArgumentException if {@code size} is out of range.
     */
    public static Builder builder(final long size)
    {
        return new Builder(size);
    }

    /**
     * Checks a requested size.
     *
     * @param size the size to check.
     * @param max  the largest allowed value.
     * @param what what the size is of, for the message.
     * @return the size.
     * @throws IllegalArgumentException naming the value if it is not in {@code 1..max}.
     */
    public static long checkSize(final long size, final long max, final String what)
    {
        if (size <= 0 || size > max)
        {
            throw new IllegalArgumentException(what + " must be between 1 and " + max + " bytes: " + size);
        }
        return size;
    }

    /**
     * Checks an alignment.
     *
     * @param alignment the alignment to check.
     * @param max       the largest allowed alignment.
     * @return the alignment.
     * @throws IllegalArgumentException naming the value if it is not a power of two in {@code 1..max}.
     */
    public static int checkAlignment(final int alignment, final int max)
    {
        if (alignment <= 0 || (alignment & (alignment - 1)) != 0 || alignment > max)
        {
            throw new IllegalArgumentException(
                "alignment must be a power of two between 1 and " + max + ": " + alignment);
        }
        return alignment;
    }

    /**
     * Checks a {@code ByteBuffer} a copy will write into: a read-only one refuses the copy, as NIO does (Agrona would
     * write through its backing array or address, and a read-only mapped file would crash the JVM), and the range
     * must lie in its capacity, whether or not Agrona's bounds checks are on.
     *
     * @param dst    the destination.
     * @param offset first byte written.
     * @param length bytes written.
     * @throws ReadOnlyBufferException          if {@code dst} is read-only.
     * @throws IndexOutOfBoundsException        if the range is outside {@code dst}'s capacity.
     */
    public static void checkDestination(final ByteBuffer dst, final int offset, final int length)
    {
        if (dst.isReadOnly())
        {
            throw new ReadOnlyBufferException();
        }
        Objects.checkFromIndexSize(offset, length, dst.capacity());
    }

    /**
     * Writes one byte in every page of {@code [address, address + size)} so that the operating system backs
     * it now and a later first write does not fault on a hot path. Unchecked.
     *
     * @param address first byte.
     * @param size    number of bytes.
     */
    public static void preTouch(final long address, final long size)
    {
        final int page = Memory.pageSize();
        final long end = address + size;
        for (long p = address; p < end; p = (p & -page) + page)
        {
            Memory.putByte(p, (byte)0);
        }
    }

    /**
     * @return address of the first byte; stable until close. Unchecked: prefer {@link #buffer()}.
     */
    public long address()
    {
        return address;
    }

    /**
     * @return size in bytes.
     */
    public int size()
    {
        return size;
    }

    /**
     * @return the base alignment of {@link #address()}.
     */
    public int alignment()
    {
        return alignment;
    }

    /**
     * The region's one Agrona view, shared by every caller: any {@code DirectBuffer}/{@code MutableDirectBuffer}
     * user (SBE codecs, Aeron) works on it with no copy. Index 0 is {@link #address()}. Its {@code wrap} methods
     * throw {@link UnsupportedOperationException}: shared, it cannot be re-pointed (wrap a buffer of your own).
     * A buffer of your own made from it ({@code new UnsafeBuffer(region.buffer(), offset, length)}, or Agrona's
     * {@code wrap(DirectBuffer, ..)}) keeps the region reachable through the view's {@code byteBuffer()}, so a region
     * left unclosed is not freed by the safety net while such a buffer still addresses it.
     *
     * @return the view; after close its capacity is 0.
     */
    public UnsafeBuffer buffer()
    {
        return buffer;
    }

    /**
     * A {@link ByteBuffer} over the same bytes for NIO channel reads and writes (no copy). The same instance
     * is returned on every call; its byte order starts big-endian, as for any new {@code ByteBuffer}.
     * After close its capacity, limit and position are 0, so it can neither be read nor written; buffers the
     * caller derives from it ({@code duplicate()}, {@code slice()}) are the caller's to discard first.
     *
     * @return the NIO view.
     * @throws IllegalStateException         if the region is closed.
     * @throws UnsupportedOperationException if this JDK's {@code DirectByteBuffer} layout is unknown.
     * @throws OutOfMemoryError              at the first view in a JVM, if malloc refuses the one byte of the template
     *                                       the views copy (a buffer of capacity 0: {@code -XX:MaxDirectMemorySize}
     *                                       does not apply to it); no view is made then, and a later call tries again.
     */
    public ByteBuffer byteBuffer()
    {
        checkOpen();
        final ByteBuffer view = byteBuffer;
        if (view != null)
        {
            return view;
        }
        // one view per region, whoever races: close() must find and empty every view it handed out
        final ByteBuffer made = DirectViews.view(address, size, this);
        final ByteBuffer winner = (ByteBuffer)BYTE_BUFFER.compareAndExchange(this, null, made);
        final ByteBuffer result = winner == null ? made : winner;
        if (closed)
        {
            DirectViews.invalidate(result); // close() raced this call and may have missed the view
            checkOpen();
        }
        return result;
    }

    /** {@link #byteBuffer()}, or {@code null} where it would throw: for {@link RegionBuffer#byteBuffer()}. */
    ByteBuffer viewOrNull()
    {
        if (closed)
        {
            return null; // nothing left to keep: the view made before, if any, is emptied
        }
        final ByteBuffer view = byteBuffer;
        if (view != null)
        {
            return view;
        }
        try
        {
            return byteBuffer();
        }
        catch (final IllegalStateException | UnsupportedOperationException | OutOfMemoryError | LinkageError refused)
        {
            // closed meanwhile, an unknown JDK layout, a heap too full for the first view (or for DirectViews' class,
            // failed then for good), malloc refusing the template's byte: no view, as before
            return null;
        }
    }

    /**
     * @return whether the memory is still held.
     */
    public boolean isOpen()
    {
        return !closed;
    }

    /**
     * Throws unless the region is open.
     *
     * @throws IllegalStateException naming the region if it has been closed.
     */
    public void checkOpen()
    {
        if (closed)
        {
            throw new IllegalStateException(deallocator.description + " is closed");
        }
    }

    /**
     * Frees the memory once; later calls do nothing. Views handed out shrink to capacity 0 first. Allocates nothing on
     * the heap and loads or links nothing, so it frees the memory on a full heap too, the first close in a JVM
     * included.
     */
    @Override
    public void close()
    {
        if (!UnsafeApi.compareAndSetBoolean(this, CLOSED_OFFSET, false, true))
        {
            return;
        }
        // capacity 0 at address 0: with Agrona's bounds checks (the default) any access throws; with them
        // disabled it goes to address 0 + index, a fault at the null page for small indexes (undefined for an index
        // past the low unmapped range of a large region: docs/memory.md)
        buffer.detach();
        final ByteBuffer view = byteBuffer;
        if (view != null)
        {
            DirectViews.invalidate(view);
        }
        deallocator.closedByOwner = true;
        cleanable.clean();
    }

    @Override
    public String toString()
    {
        return deallocator.description + (closed ? " closed" : " @0x" + Long.toHexString(address));
    }

    /**
     * A shared empty buffer that, like a region's, refuses {@code wrap}: for allocators to hand out where they have
     * no memory yet, so that no caller can re-point what every such caller shares.
     *
     * @return the empty buffer (capacity 0).
     */
    public static UnsafeBuffer emptyBuffer()
    {
        return RegionBuffer.EMPTY;
    }

    /**
     * The view handed out by {@link #buffer()}: holds its region so that the safety net cannot free memory a
     * reachable view still points to. It refuses {@code wrap}: it is the very object Lake's checked paths write
     * through (a lake's, an arena block's, a pool arena's, a slice chunk's buffer), so re-pointing it would send
     * every later checked write of its allocator wherever the caller aimed. Only {@link #close()} re-points it.
     */
    static final class RegionBuffer extends UnsafeBuffer
    {
        static final RegionBuffer EMPTY = new RegionBuffer(0L, 0, null);

        @SuppressWarnings({"unused", "FieldCanBeLocal"}) // reachability only
        private final Object owner;
        // false only while UnsafeBuffer's constructor runs, which wraps through the overridable method
        private final boolean constructed;

        RegionBuffer(final long address, final int length, final Object owner)
        {
            super(address, length);
            this.owner = owner;
            this.constructed = true;
        }

        /**
         * The region's NIO view ({@link Region#byteBuffer()}), whose attachment is the region, or {@code null} once it
         * is closed (or where this JDK cannot make the view). Agrona's {@code wrap(DirectBuffer[, int, int])} and
         * {@code new UnsafeBuffer(DirectBuffer[, int, int])} keep what this returns, so a buffer of the caller's own
         * over these bytes holds the region: the leak safety net cannot free memory that such a buffer still
         * addresses (it returned {@code null}, and a lake dropped without close was freed under the caller's
         * buffer). The first call makes the view, later ones read a field.
         */
        @Override
        public ByteBuffer byteBuffer()
        {
            return owner instanceof Region ? ((Region)owner).viewOrNull() : null;
        }

        /** Empties the view at close: address 0, capacity 0. */
        void detach()
        {
            super.wrap(0L, 0);
        }

        private void refuseWrap()
        {
            if (constructed)
            {
                throw new UnsupportedOperationException("a Lake allocator's shared buffer cannot be re-pointed: " +
                    "wrap a buffer of your own (new UnsafeBuffer(..)) over the bytes instead");
            }
        }

        @Override
        public void wrap(final byte[] buffer)
        {
            refuseWrap();
            super.wrap(buffer);
        }

        @Override
        public void wrap(final byte[] buffer, final int offset, final int length)
        {
            refuseWrap();
            super.wrap(buffer, offset, length);
        }

        @Override
        public void wrap(final ByteBuffer buffer)
        {
            refuseWrap();
            super.wrap(buffer);
        }

        @Override
        public void wrap(final ByteBuffer buffer, final int offset, final int length)
        {
            refuseWrap();
            super.wrap(buffer, offset, length);
        }

        @Override
        public void wrap(final DirectBuffer buffer)
        {
            refuseWrap();
            super.wrap(buffer);
        }

        @Override
        public void wrap(final DirectBuffer buffer, final int offset, final int length)
        {
            refuseWrap();
            super.wrap(buffer, offset, length);
        }

        @Override
        public void wrap(final long address, final int length)
        {
            refuseWrap();
            super.wrap(address, length);
        }

        /**
         * Agrona's copy, with the source (code Lake may not know) asked for its array and address before this view's
         * range is checked and its address read. Agrona's checks this view's range first: a source that closed the
         * region in its own methods had the write land at address 0 plus {@code index} with Agrona's bounds checks
         * on, which a closed view's capacity 0 is meant to refuse (at an index past the first GiB of a large region,
         * that address may be the Java heap's own memory). A source that closed the region is refused with
         * {@link IndexOutOfBoundsException} with Agrona's bounds checks off too (one compare more per copy).
         */
        @Override
        public void putBytes(final int index, final DirectBuffer srcBuffer, final int srcIndex, final int length)
        {
            if (SHOULD_BOUNDS_CHECK)
            {
                srcBuffer.boundsCheck(srcIndex, length);
            }
            final byte[] srcArray = srcBuffer.byteArray();
            final long srcOffset = srcBuffer.addressOffset() + srcIndex;
            ensureCapacity(index, length); // this view last: a closed region's has capacity 0
            if (length > 0)
            {
                checkNotClosedMidCall(); // also without Agrona's checks: the source's own code closed the region
            }
            UnsafeApi.copyMemory(srcArray, srcOffset, byteArray(), addressOffset() + index, length);
            Reference.reachabilityFence(this);
            Reference.reachabilityFence(srcBuffer); // a Lake view's memory must not be reclaimed mid-copy
        }

        /**
         * Copies {@code length} bytes into {@code dstBuffer} at its position, advancing it. The bytes must fit between
         * its position and its limit: checked first, whatever Agrona's setting, so a longer copy throws
         * {@link IndexOutOfBoundsException} with nothing written (Agrona's wrote the bytes past the limit, over the
         * caller's, then failed to move the position there with an {@link IllegalArgumentException}). One compare more
         * per copy.
         *
         * @throws ReadOnlyBufferException   if {@code dstBuffer} is read-only (nothing is written).
         * @throws IndexOutOfBoundsException as Agrona's, or if the bytes do not fit before the limit.
         */
        @Override
        public void getBytes(final int index, final ByteBuffer dstBuffer, final int length)
        {
            final int position = dstBuffer.position();
            Objects.checkFromIndexSize(position, length, dstBuffer.limit());
            getBytes(index, dstBuffer, position, length);
            dstBuffer.position(position + length);
        }

        /**
         * Copies {@code length} bytes from {@code srcBuffer}'s position, advancing it. The bytes must lie between its
         * position and its limit: checked first, whatever Agrona's setting, so a longer copy throws
         * {@link IndexOutOfBoundsException} with nothing written (Agrona's copied the source's bytes past its limit
         * into this view, then failed to move the position there). One compare more per copy.
         *
         * @throws IndexOutOfBoundsException as Agrona's, or if the bytes do not lie before the source's limit.
         */
        @Override
        public void putBytes(final int index, final ByteBuffer srcBuffer, final int length)
        {
            final int position = srcBuffer.position();
            Objects.checkFromIndexSize(position, length, srcBuffer.limit());
            putBytes(index, srcBuffer, position, length);
            srcBuffer.position(position + length);
        }

        /**
         * Agrona's, refusing a read-only destination as NIO does: Agrona writes through the buffer's backing array or
         * address whatever the buffer says, so a read-only heap or direct buffer was silently changed and a read-only
         * mapped file crashed the JVM. {@code getBytes(int, ByteBuffer, int)} comes here, as in Agrona. One
         * {@code isReadOnly()} call more per copy.
         *
         * @throws ReadOnlyBufferException   if {@code dstBuffer} is read-only (nothing is written).
         * @throws IndexOutOfBoundsException as Agrona's.
         */
        @Override
        public void getBytes(final int index, final ByteBuffer dstBuffer, final int dstOffset, final int length)
        {
            if (dstBuffer.isReadOnly())
            {
                throw new ReadOnlyBufferException();
            }
            super.getBytes(index, dstBuffer, dstOffset, length);
        }

        /**
         * Agrona's for a {@code String} (fixed chars, the JDK's code). Any other sequence is code Lake may not know:
         * Agrona's reads this view's address once and then writes each char there as it asks for it, so a sequence whose
         * {@code charAt} closed the region had the rest written into the freed memory (a JVM crash, or another
         * allocation's bytes), with Agrona's bounds checks on. Here each char is asked for first, then this view is
         * checked to be still open, then the byte is written. Same bytes, return value and checks as Agrona's otherwise;
         * one compare per char more for a sequence other than {@code String}, no allocation.
         *
         * @throws IndexOutOfBoundsException as Agrona's, if the sequence's own methods closed the region, or if it
         *                                   reports a negative {@code length()} (nothing is written; Agrona's wrote the
         *                                   4-byte length into a range checked for {@code 4 + length} bytes).
         */
        @Override
        public int putStringAscii(final int index, final CharSequence value)
        {
            if (value == null || value instanceof String)
            {
                return super.putStringAscii(index, value);
            }
            return putAsciiWithLength(index, value, ByteOrder.nativeOrder());
        }

        /** As {@link #putStringAscii(int, CharSequence)}, with the length in {@code byteOrder}. */
        @Override
        public int putStringAscii(final int index, final CharSequence value, final ByteOrder byteOrder)
        {
            if (value == null || value instanceof String)
            {
                return super.putStringAscii(index, value, byteOrder);
            }
            return putAsciiWithLength(index, value, byteOrder);
        }

        private int putAsciiWithLength(final int index, final CharSequence value, final ByteOrder byteOrder)
        {
            final int length = checkedLength(value);
            ensureCapacity(index, length + STR_HEADER_LEN);
            checkNotClosedMidCall();
            UnsafeApi.putInt(byteArray(), addressOffset() + index,
                byteOrder == ByteOrder.nativeOrder() ? length : Integer.reverseBytes(length));
            putAsciiChars(index + STR_HEADER_LEN, value, 0, length);
            return STR_HEADER_LEN + length;
        }

        /** As {@link #putStringAscii(int, CharSequence)}, without the length. */
        @Override
        public int putStringWithoutLengthAscii(final int index, final CharSequence value)
        {
            if (value == null || value instanceof String)
            {
                return super.putStringWithoutLengthAscii(index, value);
            }
            final int length = checkedLength(value);
            ensureCapacity(index, length);
            putAsciiChars(index, value, 0, length);
            return length;
        }

        /** As {@link #putStringAscii(int, CharSequence)}, without the length, for part of the sequence. */
        @Override
        public int putStringWithoutLengthAscii(
            final int index, final CharSequence value, final int valueOffset, final int length)
        {
            if (value == null || value instanceof String)
            {
                return super.putStringWithoutLengthAscii(index, value, valueOffset, length);
            }
            final int count = Math.min(value.length() - valueOffset, length);
            ensureCapacity(index, count);
            putAsciiChars(index, value, valueOffset, count);
            return count;
        }

        /**
         * The length of a sequence Lake may not know, refused when negative: {@code 4 + length} bytes of -1 to -4 would
         * pass the range check while the 4-byte prefix is written (past the region's end, at its end).
         */
        private static int checkedLength(final CharSequence value)
        {
            final int length = value.length();
            if (length < 0)
            {
                throw new IndexOutOfBoundsException("the CharSequence reports a negative length: " + length +
                    ": nothing is written");
            }
            return length;
        }

        /** Writes chars of a sequence Lake may not know: each one asked for, then this view checked, then written. */
        private void putAsciiChars(final int index, final CharSequence value, final int valueOffset, final int count)
        {
            try
            {
                for (int i = 0; i < count; i++)
                {
                    final char c = value.charAt(valueOffset + i);
                    checkNotClosedMidCall();
                    UnsafeApi.putByte(byteArray(), addressOffset() + index + i, (byte)(c > 127 ? '?' : c));
                }
            }
            finally
            {
                Reference.reachabilityFence(this);
            }
        }

        /**
         * Agrona's, with this view checked to be still open before each byte it reads: Agrona's reads this view's
         * address once and then hands each byte to the appendable (code Lake may not know), so one whose
         * {@code append} closed the region had the rest read from the freed memory (a JVM crash, or another
         * allocation's bytes handed over), with Agrona's bounds checks on. {@code getStringAscii(int, Appendable)}
         * and its {@code ByteOrder} overload read the length and come here, as in Agrona. One compare per byte more.
         *
         * @throws IndexOutOfBoundsException as Agrona's, or if the appendable closed the region.
         */
        @Override
        public int getStringWithoutLengthAscii(final int index, final int length, final Appendable appendable)
        {
            if (SHOULD_BOUNDS_CHECK)
            {
                boundsCheck0(index, length);
            }
            appendAsciiChars(index, length, appendable);
            return length;
        }

        /** As {@link #getStringWithoutLengthAscii(int, int, Appendable)}, after the 4-byte length at {@code index}. */
        @Override
        public int getStringAscii(final int index, final int length, final Appendable appendable)
        {
            if (SHOULD_BOUNDS_CHECK)
            {
                // the header and the body apart: length + 4 let a length of -1 to -4 pass, and it was returned
                boundsCheck0(index, STR_HEADER_LEN);
                boundsCheck0(index + STR_HEADER_LEN, length);
            }
            appendAsciiChars(index + STR_HEADER_LEN, length, appendable);
            return length;
        }

        /** Hands bytes to an appendable Lake may not know: this view checked before each byte is read. */
        private void appendAsciiChars(final int index, final int length, final Appendable appendable)
        {
            try
            {
                for (int i = index, limit = index + length; i < limit; i++)
                {
                    checkNotClosedMidCall();
                    final char c = (char)UnsafeApi.getByte(byteArray(), addressOffset() + i);
                    appendable.append(c > 127 ? '?' : c);
                }
            }
            catch (final IOException ex)
            {
                LangUtil.rethrowUnchecked(ex);
            }
            finally
            {
                Reference.reachabilityFence(this);
            }
        }

        /**
         * A closed region's view has capacity 0, and a region is never empty: the code Lake does not know that the
         * call just ran closed it.
         */
        private void checkNotClosedMidCall()
        {
            if (capacity() == 0)
            {
                throw new IndexOutOfBoundsException("the region was closed during the call, by code it ran: " +
                    "nothing more is read or written");
            }
        }

        /**
         * Agrona's order (native longs, then signed bytes, then capacities), with the other buffer asked for its
         * capacity, array and address before this view's own are read. Agrona's compareTo reads this view's address,
         * then asks the other buffer (code Lake may not know), then reads both raw with no bounds check whatever
         * Agrona's setting: another buffer that closed the region in {@code addressOffset()} had it read the freed
         * memory, one that closed it in {@code capacity()} read from address 0. Read last, a closed region's view
         * has capacity 0 and nothing of it is read.
         */
        @Override
        public int compareTo(final DirectBuffer that)
        {
            if (this == that)
            {
                return 0;
            }
            final int thatCapacity = that.capacity();
            final byte[] thatArray = that.byteArray();
            final long thatOffset = that.addressOffset();
            final int thisCapacity = capacity();
            final byte[] thisArray = byteArray();
            final long thisOffset = addressOffset();
            try
            {
                final int common = Math.min(thisCapacity, thatCapacity);
                final int longs = common & -8;
                int i = 0;
                for (; i < longs; i += 8)
                {
                    final int cmp = Long.compare(
                        UnsafeApi.getLong(thisArray, thisOffset + i), UnsafeApi.getLong(thatArray, thatOffset + i));
                    if (cmp != 0)
                    {
                        return cmp;
                    }
                }
                for (; i < common; i++)
                {
                    final int cmp = Byte.compare(
                        UnsafeApi.getByte(thisArray, thisOffset + i), UnsafeApi.getByte(thatArray, thatOffset + i));
                    if (cmp != 0)
                    {
                        return cmp;
                    }
                }
                return Integer.compare(thisCapacity, thatCapacity);
            }
            finally
            {
                // neither the region nor a Lake view compared with it may be reclaimed by its safety net mid-read
                Reference.reachabilityFence(this);
                Reference.reachabilityFence(that);
            }
        }
    }

    /** Frees the raw allocation exactly once: run by {@code close()} or by the cleaner. */
    private static final class Deallocator implements Runnable
    {
        private final long raw;
        private final long rawBytes;
        private final String description;
        private final Throwable site;
        volatile boolean closedByOwner;

        Deallocator(final long raw, final long rawBytes, final String description, final Throwable site)
        {
            this.raw = raw;
            this.rawBytes = rawBytes;
            this.description = description;
            this.site = site;
        }

        @Override
        public void run()
        {
            // the leak is counted and recorded before the bytes are released, so whoever waits for them to come
            // back then finds it; the memory is freed whatever the report does: it runs a logging backend, and
            // should anything ever escape it (recordLeak swallows every Throwable now) it must not leave it held
            try
            {
                if (!closedByOwner)
                {
                    NativeMemory.recordLeak(description, rawBytes, site);
                }
            }
            finally
            {
                Memory.free(raw);
                NativeMemory.released(rawBytes);
            }
        }
    }

    /**
     * Builder of a {@link Region}.
     */
    public static final class Builder
    {
        private final long size;
        private int alignment = DEFAULT_ALIGNMENT;
        private boolean zeroed;
        private boolean preTouch;

        private Builder(final long size)
        {
            this.size = checkSize(size, MAX_SIZE, "region size");
        }

        /**
         * @param alignment base address alignment: a power of two up to {@link Memory#pageSize()}.
         * @return this builder.
         * @throws IllegalArgumentException naming the value if it is not a power of two or above the page size.
         */
        public Builder alignment(final int alignment)
        {
            this.alignment = checkAlignment(alignment, Memory.pageSize());
            return this;
        }

        /**
         * @param zeroed whether every byte reads 0 before the first write.
         * @return this builder.
         */
        public Builder zeroed(final boolean zeroed)
        {
            this.zeroed = zeroed;
            return this;
        }

        /**
         * @param preTouch whether to write every page now so the first real write does not fault.
         * @return this builder.
         */
        public Builder preTouch(final boolean preTouch)
        {
            this.preTouch = preTouch;
            return this;
        }

        /**
         * @return a new open region.
         * @throws IllegalStateException if the JVM lacks {@link Memory#REQUIRED_FLAG}.
         * @throws OutOfMemoryError      if the operating system refuses the memory, or the Java heap has no room for
         *                               the region's few objects; nothing is then held or counted.
         */
        public Region build()
        {
            return new Region(this);
        }
    }
}
