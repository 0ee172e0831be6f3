package dev.lake.pool;

/**
 * What a new allocation reads where nothing has been written yet.
 */
public enum InitPolicy
{
    /**
     * New capacity is not zeroed: an allocation may read bytes a previous owner of the slot wrote. Costs nothing.
     * A stale handle still never reads them: handles check their own validity on every access.
     */
    UNINIT,

    /**
     * The region is zeroed when built and a slot is zeroed (the bytes its owner may have written) when it
     * returns to the arena, so every allocation reads zeros where nothing was written. Costs one
     * {@code memset} of the written bytes per release.
     */
    ZERO
}
