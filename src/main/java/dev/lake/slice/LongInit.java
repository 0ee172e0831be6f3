package dev.lake.slice;

/**
 * Computes the value of each element of a {@code long} slice from its index. A non-capturing lambda or method
 * reference is one shared constant, so initializing allocates nothing.
 */
@FunctionalInterface
public interface LongInit
{
    /**
     * @param index the element's index, 0 to length - 1, called in ascending order.
     * @return the element's value.
     */
    long value(int index);
}
