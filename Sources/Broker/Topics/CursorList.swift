// A list of cursors that holds one cursor without an allocation.

/// The cursors of a topic or of a subscription: an array that keeps a single
/// cursor inline. An array of one reference takes 48 bytes of heap, and most
/// topics have one cursor while a subscription to a topic name always has one:
/// two arrays fewer per idle connection.
///
/// A value, like an array (a copy is not changed by changes to the original, so
/// iterating a copy while the original changes is safe). The owner guards it
/// (the registry's lock).
struct CursorList: RandomAccessCollection {
    private enum Storage {
        case empty
        case one(Cursor)
        /// Two cursors or more.
        case many([Cursor])
    }

    private var storage = Storage.empty

    init() {}

    var startIndex: Int { 0 }

    var endIndex: Int {
        switch storage {
        case .empty: 0
        case .one: 1
        case let .many(cursors): cursors.count
        }
    }

    subscript(index: Int) -> Cursor {
        get {
            switch storage {
            case .empty: preconditionFailure("CursorList index out of range")
            case let .one(cursor):
                precondition(index == 0, "CursorList index out of range")
                return cursor
            case let .many(cursors): return cursors[index]
            }
        }
        set {
            switch storage {
            case .empty: preconditionFailure("CursorList index out of range")
            case .one:
                precondition(index == 0, "CursorList index out of range")
                storage = .one(newValue)
            case var .many(cursors):
                storage = .empty  // so that the array is uniquely referenced and changes in place
                cursors[index] = newValue
                storage = .many(cursors)
            }
        }
    }

    mutating func append(_ cursor: Cursor) {
        switch storage {
        case .empty: storage = .one(cursor)
        case let .one(first): storage = .many([first, cursor])
        case var .many(cursors):
            storage = .empty
            cursors.append(cursor)
            storage = .many(cursors)
        }
    }

    /// Removes and returns the last cursor (the list must not be empty).
    @discardableResult
    mutating func removeLast() -> Cursor {
        switch storage {
        case .empty: preconditionFailure("removeLast on an empty CursorList")
        case let .one(cursor):
            storage = .empty
            return cursor
        case var .many(cursors):
            storage = .empty
            let last = cursors.removeLast()
            storage = cursors.count == 1 ? .one(cursors[0]) : .many(cursors)
            return last
        }
    }

    mutating func removeAll() {
        storage = .empty
    }

    /// Removes every cursor for which `shouldBeRemoved` is true, keeping the order of the others.
    mutating func removeAll(where shouldBeRemoved: (Cursor) -> Bool) {
        switch storage {
        case .empty: return
        case let .one(cursor):
            if shouldBeRemoved(cursor) { storage = .empty }
        case var .many(cursors):
            storage = .empty
            cursors.removeAll(where: shouldBeRemoved)
            switch cursors.count {
            case 0: storage = .empty
            case 1: storage = .one(cursors[0])
            default: storage = .many(cursors)
            }
        }
    }
}
