package dev.lake.linear;

import dev.lake.memory.Memory;
import dev.lake.memory.Region;
import dev.lake.memory.StaleHandleException;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.Objects;
import java.util.function.DoubleConsumer;
import java.util.function.IntConsumer;
import java.util.function.LongConsumer;
import java.util.function.ObjIntConsumer;

/**
 * A read view of the elements an {@link ArenaVec} handed to its {@link Arena} with {@code finish()}: it lives
 * as long as the arena's memory under it. A rewind, rollback or reset below its last element, or closing the
 * arena, makes every later call but {@link #elementSize()}, {@link #isValid()} and {@code toString()} throw
 * {@link StaleHandleException} (an empty view has no element to lose: only closing the arena ends it); the
 * check is one compare of the arena's clock in the common case. Indexes are bounds-checked here, not left to
 * Agrona. Not thread-safe, like its arena.
 */
public abstract class ArenaView
{
    private static final UnsafeBuffer EMPTY = Region.emptyBuffer(); // shared, so it refuses wrap

    final Arena arena;
    final UnsafeBuffer buffer;
    final int start;
    final int length;
    final int elementSize;
    private final long end;
    private long stamp;

    ArenaView(final Arena arena, final long ref, final int length, final int elementSize)
    {
        this.arena = arena;
        this.length = length;
        this.elementSize = elementSize;
        this.stamp = arena.clock;
        if (ref < 0)
        {
            buffer = EMPTY;
            start = 0;
            end = 0;
        }
        else
        {
            buffer = arena.blockBuffer(Arena.block(ref));
            start = Arena.offset(ref);
            end = ref + (long)length * elementSize;
        }
    }

    /**
     * @return elements in the view.
     * @throws StaleHandleException if the memory under the view is gone.
     */
    public final int size()
    {
        check();
        return length;
    }

    /**
     * @return bytes per element.
     */
    public final int elementSize()
    {
        return elementSize;
    }

    /**
     * @return the buffer the elements lie in, read-only by type, for zero-copy use (a socket write, an SBE
     * decoder); element {@code i} starts at {@code offset() + i * elementSize()}.
     * @throws StaleHandleException if the memory under the view is gone.
     */
    public final DirectBuffer buffer()
    {
        check();
        return buffer;
    }

    /**
     * @return offset of element 0 in {@link #buffer()}.
     * @throws StaleHandleException if the memory under the view is gone.
     */
    public final int offset()
    {
        check();
        return start;
    }

    /**
     * @return whether the memory under the view is still its own.
     */
    public final boolean isValid()
    {
        return !arena.isClosed() && (length == 0 || !arena.isStale(end, stamp));
    }

    @Override
    public String toString()
    {
        return getClass().getSimpleName() + "[" + length + " x " + elementSize + " B" + (isValid() ? "]" : ", stale]");
    }

    final void check()
    {
        if (arena.clock != stamp)
        {
            if (arena.isClosed())
            {
                throw new StaleHandleException("ArenaView used after its arena was closed");
            }
            if (length > 0 && arena.isStale(end, stamp))
            {
                throw new StaleHandleException("ArenaView used after its arena was rewound or reset below it");
            }
            stamp = arena.clock;
        }
    }

    final int at(final int index)
    {
        check();
        return start + Objects.checkIndex(index, length) * elementSize;
    }

    /**
     * A read view of {@code long}s.
     */
    public static final class OfLong extends ArenaView
    {
        OfLong(final Arena arena, final long ref, final int length)
        {
            super(arena, ref, length, Long.BYTES);
        }

        /**
         * @param index 0 to {@code size() - 1}.
         * @return the value there.
         * @throws IndexOutOfBoundsException if {@code index} is out of range.
         * @throws StaleHandleException      if the memory under the view is gone.
         */
        public long get(final int index)
        {
            return buffer.getLong(at(index));
        }

        /**
         * @param action called with each value in order, without boxing.
         * @throws StaleHandleException if the memory under the view is gone.
         */
        public void forEach(final LongConsumer action)
        {
            check(); // an empty one still reports that it is stale
            for (int i = 0; i < length; i++)
            {
                check(); // before every read: the action may have rewound, reset or closed the arena
                action.accept(buffer.getLong(start + (i << 3)));
            }
        }

        /**
         * @return a heap copy of the values.
         * @throws StaleHandleException if the memory under the view is gone.
         */
        public long[] toArray()
        {
            check();
            final long[] out = new long[length];
            for (int i = 0; i < length; i++)
            {
                out[i] = buffer.getLong(start + (i << 3));
            }
            return out;
        }
    }

    /**
     * A read view of {@code int}s.
     */
    public static final class OfInt extends ArenaView
    {
        OfInt(final Arena arena, final long ref, final int length)
        {
            super(arena, ref, length, Integer.BYTES);
        }

        /**
         * @param index 0 to {@code size() - 1}.
         * @return the value there.
         * @throws IndexOutOfBoundsException if {@code index} is out of range.
         * @throws StaleHandleException      if the memory under the view is gone.
         */
        public int get(final int index)
        {
            return buffer.getInt(at(index));
        }

        /**
         * @param action called with each value in order, without boxing.
         * @throws StaleHandleException if the memory under the view is gone.
         */
        public void forEach(final IntConsumer action)
        {
            check(); // an empty one still reports that it is stale
            for (int i = 0; i < length; i++)
            {
                check(); // before every read: the action may have rewound, reset or closed the arena
                action.accept(buffer.getInt(start + (i << 2)));
            }
        }

        /**
         * @return a heap copy of the values.
         * @throws StaleHandleException if the memory under the view is gone.
         */
        public int[] toArray()
        {
            check();
            final int[] out = new int[length];
            for (int i = 0; i < length; i++)
            {
                out[i] = buffer.getInt(start + (i << 2));
            }
            return out;
        }
    }

    /**
     * A read view of {@code double}s.
     */
    public static final class OfDouble extends ArenaView
    {
        OfDouble(final Arena arena, final long ref, final int length)
        {
            super(arena, ref, length, Double.BYTES);
        }

        /**
         * @param index 0 to {@code size() - 1}.
         * @return the value there.
         * @throws IndexOutOfBoundsException if {@code index} is out of range.
         * @throws StaleHandleException      if the memory under the view is gone.
         */
        public double get(final int index)
        {
            return buffer.getDouble(at(index));
        }

        /**
         * @param action called with each value in order, without boxing.
         * @throws StaleHandleException if the memory under the view is gone.
         */
        public void forEach(final DoubleConsumer action)
        {
            check(); // an empty one still reports that it is stale
            for (int i = 0; i < length; i++)
            {
                check(); // before every read: the action may have rewound, reset or closed the arena
                action.accept(buffer.getDouble(start + (i << 3)));
            }
        }

        /**
         * @return a heap copy of the values.
         * @throws StaleHandleException if the memory under the view is gone.
         */
        public double[] toArray()
        {
            check();
            final double[] out = new double[length];
            for (int i = 0; i < length; i++)
            {
                out[i] = buffer.getDouble(start + (i << 3));
            }
            return out;
        }
    }

    /**
     * A read view of fixed-size records.
     */
    public static final class OfRecord extends ArenaView
    {
        OfRecord(final Arena arena, final long ref, final int length, final int recordSize)
        {
            super(arena, ref, length, recordSize);
        }

        /**
         * @param index 0 to {@code size() - 1}.
         * @return offset of record {@code index} in {@link #buffer()}.
         * @throws IndexOutOfBoundsException if {@code index} is out of range.
         * @throws StaleHandleException      if the memory under the view is gone.
         */
        public int offsetOf(final int index)
        {
            return at(index);
        }

        /**
         * Copies record {@code index} into {@code dst} at {@code dstIndex}. No allocation into Agrona's and Lake's
         * own buffers; another {@code MutableDirectBuffer} type gets the bytes through one heap copy of the record,
         * so that code Lake does not know never holds the arena's block ({@link Memory#copyOut}).
         *
         * @param index    0 to {@code size() - 1}.
         * @param dst      the destination.
         * @param dstIndex first byte written.
         * @throws IndexOutOfBoundsException if {@code index} or the destination range is out of range.
         * @throws StaleHandleException      if the memory under the view is gone.
         */
        public void get(final int index, final MutableDirectBuffer dst, final int dstIndex)
        {
            // the destination's capacity first: it is code Lake does not know, which may reset or close the arena;
            // the record is checked after it, and a destination of another type than Agrona's and Lake's own gets a
            // heap copy, never the arena's block buffer (Memory.copyOut)
            final int room = dst.capacity();
            final int at = at(index);
            Objects.checkFromIndexSize(dstIndex, elementSize, room);
            Memory.copyOut(buffer, at, dst, dstIndex, elementSize);
        }

        /**
         * @param action called with the buffer and the offset of each record in order.
         * @throws StaleHandleException if the memory under the view is gone.
         */
        public void forEach(final ObjIntConsumer<DirectBuffer> action)
        {
            check(); // an empty one still reports that it is stale
            for (int i = 0; i < length; i++)
            {
                check(); // before every read: the action may have rewound, reset or closed the arena
                action.accept(buffer, start + i * elementSize);
            }
        }
    }
}
