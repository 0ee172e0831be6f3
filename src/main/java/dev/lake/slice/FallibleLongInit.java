package dev.lake.slice;

/**
 * A {@link LongInit} that may fail with a checked exception. When it throws,
 * {@link SliceAllocator#tryAllocateLongs} leaves the allocator as it was and rethrows.
 *
 * @param <X> the exception it may throw.
 */
@FunctionalInterface
public interface FallibleLongInit<X extends Exception>
{
    /**
     * @param index the element's index, 0 to length - 1, called in ascending order.
     * @return the element's value.
     * @throws X to abandon the whole allocation.
     */
    long value(int index) throws X;
}
