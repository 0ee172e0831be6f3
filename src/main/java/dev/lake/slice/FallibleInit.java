package dev.lake.slice;

import org.agrona.MutableDirectBuffer;

/**
 * An {@link ElementInit} that may fail with a checked exception: the seed's {@code try_alloc}. When it throws,
 * {@link SliceAllocator#tryAllocate} leaves the allocator as it was and rethrows.
 *
 * @param <X> the exception it may throw.
 */
@FunctionalInterface
public interface FallibleInit<X extends Exception>
{
    /**
     * @param buffer the window over the slice being built, valid during the call.
     * @param offset the element's first byte in {@code buffer}.
     * @param index  the element's index, 0 to length - 1, called in ascending order.
     * @throws X to abandon the whole allocation.
     */
    void init(MutableDirectBuffer buffer, int offset, int index) throws X;
}
