// The first k elements of a large sequence in order, without sorting all of it: the API's pages.
import Glibc

/// The first `count` elements of `items` in the order `precedes` defines, sorted: what
/// `items.sorted(by: precedes).prefix(count)` gives for a total order, in O(n log count) time
/// and O(count) memory. A page of 100 out of 100,000 topics or connections costs one pass and
/// a few comparisons per element, not a sort of all of them.
///
/// `precedes` must be a strict total order (the API's orders break every tie by name or id).
/// Pure; any thread.
func firstInOrder<Element>(_ items: some Sequence<Element>, count: Int, by precedes: (Element, Element) -> Bool) -> [Element] {
    guard count > 0 else { return [] }
    // A heap whose root is the element that comes last of those kept: a new element either
    // comes after it (and is dropped) or replaces it.
    var heap: [Element] = []
    heap.reserveCapacity(min(count, items.underestimatedCount))
    for item in items {
        if heap.count < count {
            heap.append(item)
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard precedes(heap[parent], heap[child]) else { break }
                heap.swapAt(parent, child)
                child = parent
            }
        } else if precedes(item, heap[0]) {
            heap[0] = item
            var parent = 0
            while true {
                let left = 2 * parent + 1
                guard left < heap.count else { break }
                var later = left
                if left + 1 < heap.count, precedes(heap[left], heap[left + 1]) { later = left + 1 }
                guard precedes(heap[parent], heap[later]) else { break }
                heap.swapAt(parent, later)
                parent = later
            }
        }
    }
    heap.sort(by: precedes)
    return heap
}

/// Whether byte string `a` comes before `b` (bytes compared as unsigned, a prefix first):
/// `lexicographicallyPrecedes` for names, with one `memcmp`.
func bytesPrecede(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    a.withUnsafeBytes { x in
        b.withUnsafeBytes { y in
            let common = min(x.count, y.count)
            if common > 0, let left = x.baseAddress, let right = y.baseAddress {
                let order = memcmp(left, right, common)
                if order != 0 { return order < 0 }
            }
            return x.count < y.count
        }
    }
}
