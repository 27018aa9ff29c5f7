/* The part of the core library written in ivm's own language: the
 * functions that make functions (comp, partial, constantly, ...), which
 * natives cannot, since only compiled code makes closures, and the few
 * others most simply written on top of the natives (printf, clojure.set).
 * Compiled into every VM by ivm_compiler_install; a function here shows
 * in an error's trace as "at NAME (prelude:LINE)". */
#ifndef IVM_PRELUDE_H
#define IVM_PRELUDE_H

static const char ivm_prelude[] =
    "(defn comp\n"
    "  ([] identity)\n"
    "  ([f] f)\n"
    "  ([f g] (fn [& args] (f (apply g args))))\n"
    "  ([f g & fs] (reduce comp (comp f g) fs)))\n"
    "(defn partial\n"
    "  ([f] f)\n"
    "  ([f & args] (fn [& more] (apply f (concat args more)))))\n"
    "(defn constantly [x] (fn [& _] x))\n"
    "(defn complement [f] (fn [& args] (not (apply f args))))\n"
    "(defn juxt [& fs] (fn [& args] (mapv (fn [f] (apply f args)) fs)))\n"
    "(defn fnil [f default] (fn [x & more] (apply f (if (nil? x) default x) more)))\n"
    "(defn every-pred [& ps] (fn [& args] (every? (fn [p] (every? p args)) ps)))\n"
    "(defn some-fn [& ps] (fn [& args] (some (fn [p] (some p args)) ps)))\n"
    "(defn printf [fmt & args] (print (apply format fmt args)))\n"
    "(defn keep-indexed [f coll] (keep identity (map-indexed f coll)))\n"
    "(defn partition-by [f coll]\n"
    "  (loop [xs (seq coll) out [] run [] k nil]\n"
    "    (if xs\n"
    "      (let [x (first xs) kx (f x)]\n"
    "        (if (or (empty? run) (= kx k))\n"
    "          (recur (next xs) out (conj run x) kx)\n"
    "          (recur (next xs) (conj out (apply list run)) [x] kx)))\n"
    "      (apply list (if (empty? run) out (conj out (apply list run)))))))\n"
    ";; depth first, with the nodes still to visit on a list (no recursion)\n"
    "(defn tree-seq [branch? children root]\n"
    "  (loop [todo (list root) out []]\n"
    "    (if (seq todo)\n"
    "      (let [node (first todo) more (rest todo)]\n"
    "        (recur (if (branch? node) (into more (reverse (children node))) more)\n"
    "               (conj out node)))\n"
    "      (apply list out))))\n"
    ";; clojure.set\n"
    "(defn clojure.set/union ([] #{}) ([a] a) ([a b & more] (reduce into (into a b) more)))\n"
    "(defn clojure.set/intersection\n"
    "  ([a] a)\n"
    "  ([a b & more] (reduce (fn [acc s] (set (filter s acc))) (set (filter b a)) more)))\n"
    "(defn clojure.set/difference\n"
    "  ([a] a)\n"
    "  ([a b & more] (reduce (fn [acc s] (set (remove s acc))) (set (remove b a)) more)))\n"
    "(defn clojure.set/subset? [a b] (every? b a))\n"
    "(defn clojure.set/superset? [a b] (every? a b))\n"
    "(defn clojure.set/select [pred s] (set (filter pred s)))\n"
    "(defn clojure.set/map-invert [m] (into {} (map (fn [[k v]] [v k]) m)))\n"
    "(defn clojure.set/rename-keys [map kmap]\n"
    "  (reduce (fn [m [old new]] (if (contains? map old) (assoc m new (get map old)) m))\n"
    "          (apply dissoc map (keys kmap)) kmap))\n";

#endif
