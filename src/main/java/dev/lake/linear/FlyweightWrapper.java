package dev.lake.linear;

import org.agrona.MutableDirectBuffer;

/**
 * How to point a flyweight (an SBE or Aeron codec, or any type that reads and writes a buffer at an offset)
 * at freshly placed memory. A non-capturing method reference such as {@code MyEncoder::wrap} is one shared
 * constant, so placing a flyweight allocates nothing.
 *
 * @param <F> the flyweight type.
 */
@FunctionalInterface
public interface FlyweightWrapper<F>
{
    /**
     * Wraps {@code flyweight} over {@code buffer} starting at {@code offset}.
     *
     * @param flyweight the flyweight to point at the memory.
     * @param buffer    the allocator's buffer.
     * @param offset    the first byte of the placed memory.
     */
    void wrap(F flyweight, MutableDirectBuffer buffer, int offset);
}
