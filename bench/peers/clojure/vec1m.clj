;; Issue 4's vector benchmark in Clojure: build a 1,000,000-element vector
;; by conj (persistent, as ivm's) and sum it with reduce.
;; Prints "1000000 499999500000" on stdout, and on stderr the time of that
;; work measured inside the JVM with (time ...). N (default 1000000; the
;; first argument, as bench/programs/vec1m.iv's) is the number of elements;
;; the optional second argument runs the work that many times in the same
;; JVM (the later runs show the JIT warm).
;; Run: clojure bench/peers/clojure/vec1m.clj [N [RUNS]]
(defn build [n]
  (loop [i 0 v []]
    (if (< i n)
      (recur (inc i) (conj v i))
      v)))

(defn run [n]
  (let [v (build n)]
    [(count v) (reduce + v)]))

(let [n (if-let [a (first *command-line-args*)] (Long/parseLong a) 1000000)
      runs (if-let [a (second *command-line-args*)] (Long/parseLong a) 1)
      result (last (for [_ (range runs)]
                     (binding [*out* *err*] (time (run n)))))]
  (apply println result))
