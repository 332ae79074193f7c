// The one rule of backward-shift removal, shared by the broker's open-addressing tables.

/// Linear probing over a power-of-two array, as ``TopicTable`` and ``SubscriptionTable`` use it.
enum LinearProbing {
    /// After a removal left a gap at `gap`, whether the entry at `index` (later in the same
    /// probe run), whose home slot is `home`, stays where it is: it does when its home lies
    /// cyclically after the gap and at or before `index`; otherwise it moves into the gap.
    @inline(__always)
    static func staysPut(home: Int, gap: Int, index: Int) -> Bool {
        gap <= index ? (home > gap && home <= index) : (home > gap || home <= index)
    }
}
