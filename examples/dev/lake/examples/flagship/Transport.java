package dev.lake.examples.flagship;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * How one variant of the pipeline carries a message from the feed to the engine and the fan-out consumers:
 * Lake's FixedArena, Netty's pooled ByteBufs, or a byte[] per message. The pipeline code is the same for all,
 * so the printout compares buffer management and nothing else.
 *
 * @param <M> the carrier object that crosses the queues.
 */
interface Transport<M> extends AutoCloseable
{
    /** @return the name printed in the results. */
    String name();

    /**
     * Feed thread: claims memory for a message of at most {@code capacity} bytes.
     *
     * @param capacity the largest message.
     * @return the carrier, or {@code null} when no memory is free right now (the feed retries).
     */
    M claim(int capacity);

    /**
     * Feed thread: the buffer to encode into, at offset 0.
     *
     * @param message the claimed carrier.
     * @param view    a feed-owned view the transport may point at the memory.
     * @return the buffer to encode into.
     */
    MutableDirectBuffer writable(M message, UnsafeBuffer view);

    /**
     * Feed thread: the first {@code length} bytes are the message; after this it is read-only.
     *
     * @param message the carrier.
     * @param length  the encoded length.
     * @return the carrier to hand over.
     */
    M publish(M message, int length);

    /**
     * Any reader: the buffer to decode from, at offset 0.
     *
     * @param message the carrier.
     * @param view    a reader-owned view the transport may point at the memory.
     * @return the buffer to decode from.
     */
    DirectBuffer readable(M message, UnsafeBuffer view);

    /**
     * Adds a reference for another reader.
     *
     * @param message the carrier.
     * @return the carrier for the other reader.
     */
    M share(M message);

    /**
     * Drops one reference.
     *
     * @param message the carrier.
     */
    void release(M message);

    /**
     * @return messages whose memory is still held (0 after a clean run).
     */
    long outstanding();

    @Override
    void close();
}
